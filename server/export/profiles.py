"""Province profiles (docs/export.md "Profiles"): a province's dialect of GB/T 39046 Table 9 as
data, a TOML file, never code. Shipped: ``gbt39046`` (the standard) and two fictional
provincial-style dialects, ``province-a`` and ``province-b``, in server/export/profiles/.

A new province is a new file; ``validate_profile`` (``hallrate export validate FILE``) names every
problem with its key. This module is the API: loading and validating here, the dialect itself in
server/export/codec.py (re-exported).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from server.export.codec import (
    DecodeError,
    NotExported,
    Result,
    auth_headers,
    batch_body,
    correction_ops,
    decode,
    encode,
    read_results,
    results_body,
)
from server.export.profile_check import read
from server.export.profile_model import LEVEL_NAMES, STANDARD_CHANNELS, Profile

if TYPE_CHECKING:
    from server.online.policy import DefaultRatingPolicy

__all__ = [
    "LEVEL_NAMES",
    "PROFILES_DIR",
    "STANDARD_CHANNELS",
    "DecodeError",
    "NotExported",
    "Profile",
    "ProfileError",
    "Result",
    "auth_headers",
    "batch_body",
    "correction_ops",
    "decode",
    "encode",
    "load_profile",
    "policy_warnings",
    "read_results",
    "results_body",
    "shipped_profiles",
    "validate_profile",
]

PROFILES_DIR = Path(__file__).parent / "profiles"


class ProfileError(ValueError):
    """A profile that cannot be used: unknown, unreadable or invalid; the message names every
    problem."""


def shipped_profiles() -> list[str]:
    """The names of the shipped profiles, sorted."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def _path(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if isinstance(name_or_path, Path) or "/" in text or "\\" in text or text.endswith(".toml"):
        return Path(name_or_path)
    if text not in shipped_profiles():
        raise ProfileError(
            f"unknown profile {text!r}; shipped profiles are {', '.join(shipped_profiles())} "
            "(or give the path of a .toml file)"
        )
    return PROFILES_DIR / f"{text}.toml"


def validate_profile(path: str | Path) -> list[str]:
    """Every problem of the profile at ``path`` (or a shipped profile's name), each as
    ``<key>: <what is wrong>``; [] when it is valid."""
    try:
        target = _path(path)
    except ProfileError as exc:
        return [str(exc)]
    return read(target)[1]


def load_profile(name_or_path: str | Path) -> Profile:
    """A shipped profile by name, or a profile file by path. Raises ProfileError listing every
    problem."""
    target = _path(name_or_path)
    profile, problems = read(target)
    if profile is None:
        raise ProfileError(f"profile {target} is invalid: " + "; ".join(problems))
    return profile


def policy_warnings(profile: Profile, policy: DefaultRatingPolicy) -> list[str]:
    """Where the profile's ``default_rating_days`` (the province adds a default rating after N
    natural days) and the policy's ``[default_rating]`` disagree: information, not a problem."""
    days = profile.default_rating_days
    if days is None:
        return []
    said = f"default_rating_days: the province adds a default rating after {days} days"
    if not policy.enabled:
        return [f"{said}, but the policy's [default_rating] is off (enabled = false)"]
    if policy.after_days != days or policy.day_kind != "natural":
        return [
            f"{said}, the policy's [default_rating] after {policy.after_days} "
            f"{policy.day_kind} days"
        ]
    return []
