"""One mpremote session per device: the chained command line of a deploy (docs/provisioning.md,
"What a deploy does on the board"; ADR 0017).

    mpremote connect PORT  exec <check the image>  + exec <enter maintenance>  + exec <clean>
        [+ romfs deploy rom/]  + fs cp ... (one per file)  + exec <verify>  [+ exec <finish>]
        [+ reset]

Every step that runs on the board is a small program built here with the device's root as a
prefix ("" on a board: "/config.json"; the tests run the same programs on the unix port with a
directory). A program that finds a problem raises, mpremote exits 1 and the chain stops there:
nothing after it runs, and the board stays in maintenance mode.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

SUMS = "SHA256SUMS"  # the bundle's hash manifest: "<sha256>  <path>" per file (sha256sum -c)
MAINT = "maint"  # the flag file: main.py starts neither the app nor the watchdog while it exists
# What a deploy never removes from the board (top-level names; "outbox" is a prefix: outbox.bin,
# its saved cfg and any segment files): the data and credentials of the device, not its code.
# "rom" is where a ROMFS partition is mounted.
KEEP = ("config.json", "certs", "boot.json", "fatal.log", "ota.json", "ota.part", MAINT, "rom")
KEEP_PREFIX = "outbox"
DEPLOY_WDT_MS = 15 * 60 * 1000  # the running watchdog is stretched to this for the session
NVS_NAMESPACE = "hallrate"  # config.json and certs/ backed up for the recovering _boot


class SessionError(ValueError):
    """The bundle cannot be deployed (its hash manifest is missing or does not match)."""


# ---- the hash manifest -------------------------------------------------------------------------


def sha256_file(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write_sums(bundle: Path, files: list[Path]) -> Path:
    """Write ``bundle``/SHA256SUMS for ``files`` (relative paths)."""
    lines = [f"{sha256_file(bundle / r)}  {r.as_posix()}" for r in sorted(files)]
    out = bundle / SUMS
    out.write_text("\n".join(lines) + "\n")
    return out


def read_sums(bundle: Path) -> dict[str, str]:
    """path -> sha256 from ``bundle``/SHA256SUMS, each checked against the bundle's own file."""
    p = bundle / SUMS
    try:
        text = p.read_text()
    except OSError:
        raise SessionError(
            f"{p}: the bundle has no hash manifest; rebuild it (hallrate firmware build)"
        ) from None
    sums: dict[str, str] = {}
    for n, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or not name or name.startswith("/") or ".." in name:
            raise SessionError(f"{p} line {n}: not '<sha256>  <path>'")
        sums[name] = digest
    for name, digest in sums.items():
        f = bundle / name
        if not f.is_file() or sha256_file(f) != digest:
            raise SessionError(f"{p}: {name} does not match its hash in the bundle")
    return sums


# ---- programs run on the board -----------------------------------------------------------------


def check_image(version: str, build: str) -> str:
    """Refuse a board whose MicroPython is not the pinned version and board variant."""
    return (
        "import sys\n"
        "v='%d.%d.%d'%sys.implementation.version[:3]\n"
        "b=getattr(sys.implementation,'_build','?')\n"
        f"if (v,b)!=({version!r},{build!r}):\n"
        " raise Exception('hallrate deploy: the board runs MicroPython %s %s; the pin map pins"
        f" {version} {build} (flash that image, or give --any-image)'%(v,b))\n"
    )


def enter_maintenance(root: str = "") -> str:
    """Write the flag (the next boot stays in maintenance) and stretch a running watchdog:
    ESP32's machine.WDT(timeout=...) re-times the task watchdog (esp_task_wdt_reconfigure)."""
    return (
        f"open({root + '/' + MAINT!r},'w').close()\n"
        "try:\n"
        f" import machine;machine.WDT(timeout={DEPLOY_WDT_MS})\n"
        "except (ImportError,AttributeError):\n"
        " pass\n"
    )


_WALK = (
    "import os\n"
    "def _walk(d,rel,out):\n"
    " for e in os.ilistdir(d):\n"
    "  n=e[0];r=rel+n\n"
    "  if e[1]==0x4000:\n"
    "   out.append(r+'/');_walk(d.rstrip('/')+'/'+n,r+'/',out)\n"
    "  else:\n"
    "   out.append(r)\n"
    "def _kept(r):\n"
    " t=r.split('/')[0]\n"
    f" return t in {KEEP!r} or t.startswith({KEEP_PREFIX!r})\n"
)


def clean(files: list[str], root: str = "") -> str:
    """Remove every file and directory of the board that is neither kept (KEEP, KEEP_PREFIX)
    nor in the bundle (a stale app.py would shadow app.mpy), then make the bundle's dirs."""
    dirs = sorted({f.rsplit("/", 1)[0] for f in files if "/" in f})
    return _WALK + (
        f"R={root!r};F={sorted(files)!r};D={dirs!r}\n"
        "L=[];_walk(R or '/','',L)\n"
        "for r in sorted(L,reverse=True):\n"
        " if _kept(r) or r in F or r.rstrip('/') in D:\n"
        "  continue\n"
        " if r.endswith('/'):\n"
        "  os.rmdir(R+'/'+r[:-1])\n"
        " else:\n"
        "  os.remove(R+'/'+r)\n"
        " print('removed',r)\n"
        "for d in D:\n"
        " p=R\n"
        " for s in d.split('/'):\n"
        "  p+='/'+s\n"
        "  try:\n"
        "   os.mkdir(p)\n"
        "  except OSError:\n"
        "   pass\n"
    )


def verify(sums: dict[str, str], root: str = "") -> str:
    """Read every file back with hashlib.sha256 and list the board's files: a missing file, a
    hash that differs or a file that is neither in the bundle nor kept fails the deploy."""
    return _WALK + (
        "import hashlib,binascii\n"
        f"R={root!r};W={dict(sorted(sums.items()))!r}\n"
        "bad=[]\n"
        "for n in W:\n"
        " h=hashlib.sha256()\n"
        " try:\n"
        "  with open(R+'/'+n,'rb') as f:\n"
        "   while 1:\n"
        "    b=f.read(1024)\n"
        "    if not b:\n"
        "     break\n"
        "    h.update(b)\n"
        "  if binascii.hexlify(h.digest()).decode()!=W[n]:\n"
        "   bad.append(n+' (differs)')\n"
        " except OSError:\n"
        "  bad.append(n+' (missing)')\n"
        "L=[];_walk(R or '/','',L)\n"
        "for r in L:\n"
        " if not r.endswith('/') and r not in W and not _kept(r):\n"
        "  bad.append(r+' (not in the bundle)')\n"
        "if bad:\n"
        " raise Exception('hallrate deploy: the board does not match the bundle: '"
        "+', '.join(bad))\n"
        "print('verified %d files'%len(W))\n"
    )


def finish(root: str = "") -> str:
    """Back config.json and certs/ up into NVS (what the recovering _boot restores; ESP32 only)
    and leave maintenance mode (the reset that follows starts the app)."""
    return (
        "import os,struct\n"
        f"R={root!r}\n"
        "try:\n"
        " import esp32\n"
        "except ImportError:\n"
        " esp32=None\n"
        "if esp32:\n"
        " names=['config.json']\n"
        " try:\n"
        "  names+=['certs/'+n for n in os.listdir(R+'/certs')]\n"
        " except OSError:\n"
        "  pass\n"
        " blob=b''\n"
        " for n in names:\n"
        "  with open(R+'/'+n,'rb') as f:\n"
        "   d=f.read()\n"
        "  blob+=struct.pack('>B',len(n))+n.encode()+struct.pack('>I',len(d))+d\n"
        f" nv=esp32.NVS({NVS_NAMESPACE!r})\n"
        " nv.set_blob('files',blob);nv.set_i32('size',len(blob))\n"
        " nv.commit()\n"
        f"os.remove(R+'/{MAINT}')\n"
        "print('maintenance off')\n"
    )


# ---- the command line --------------------------------------------------------------------------


def session(
    bundle: Path,
    files: list[Path],
    port: str,
    mpremote: str = "mpremote",
    image: tuple[str, str] | None = None,
    finish_it: bool = True,
    reset: bool = True,
    root: str = "",
) -> list[str]:
    """The one mpremote argv that deploys ``files`` of ``bundle`` (checked against SHA256SUMS)
    onto the board at ``port``. ``image`` (version, build) checks the board's MicroPython first;
    without ``finish_it`` the board stays in maintenance mode (the factory self-test runs next).
    ``root`` prefixes the board's paths (the tests run the programs on the unix port)."""
    sums = read_sums(bundle)
    names = [r.as_posix() for r in files]
    missing = sorted(set(names) - set(sums))
    if missing:
        raise SessionError(f"{bundle / SUMS}: no hash for {', '.join(missing)}")
    steps: list[list[str]] = []
    if image is not None:
        steps.append(["exec", check_image(*image)])
    steps.append(["exec", enter_maintenance(root)])
    steps.append(["exec", clean(names, root)])
    if (bundle / "rom").is_dir():  # modules into the ROMFS partition, in one step
        steps.append(["romfs", "--no-mpy", "deploy", str(bundle / "rom")])
    steps += [["fs", "cp", str(bundle / n), f":/{n}"] for n in names]
    steps.append(["exec", verify({n: sums[n] for n in names}, root)])
    if finish_it:
        steps.append(["exec", finish(root)])
    if reset:
        steps.append(["reset"])
    argv = [mpremote, "connect", port]
    for i, s in enumerate(steps):
        argv += (["+"] if i else []) + s
    return argv


def steps_of(argv: list[str]) -> list[list[str]]:
    """The chained commands of a session argv (what follows "connect PORT", split at "+")."""
    out: list[list[str]] = [[]]
    for a in argv[3:]:
        if a == "+":
            out.append([])
        else:
            out[-1].append(a)
    return out


def pinned_image(pin_map: dict[str, object]) -> tuple[str, str]:
    """(micropython, variant) of a pin map (hardware/pins/<board>.toml)."""
    v, b = pin_map.get("micropython"), pin_map.get("variant")
    if not isinstance(v, str) or not isinstance(b, str):
        raise SessionError(f"pin map {pin_map.get('board')!r} pins no micropython/variant")
    return v, b


def bundle_board(bundle: Path) -> str:
    """The board of a bundle, from its config.json."""
    try:
        return str(json.loads((bundle / "config.json").read_text()).get("board", "esp32s3"))
    except (OSError, ValueError):
        raise SessionError(f"{bundle}/config.json: missing or not JSON") from None
