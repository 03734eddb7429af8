"""Firmware updates on the gateway side: release signing, the release store and roll-outs.

docs/firmware.md (Updates), docs/updates.md (releases and roll-outs) and
docs/adr/0012-firmware-updates.md.

signing.py   Ed25519 release keys: generate, load, sign, verify
releases.py  the release store: sign and publish a build, list releases
config.py    hall.toml [firmware] and [rollout]
plan.py      the roll-out engine, pure: state + observations + now -> actions
store.py     roll-out tables in the gateway journal
serving.py   answers a device's fetch with blk chunks
runner.py    the gateway thread that records what devices say and ticks the engine
cli.py       `hallrate firmware keygen|release|releases|rollout ...`
"""
