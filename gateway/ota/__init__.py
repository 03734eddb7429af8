"""Firmware releases and staged roll-outs on the gateway (docs/updates.md).

releases.py  the release store: sign and publish a build, list releases
config.py    hall.toml [firmware] and [rollout]
plan.py      the roll-out engine, pure: state + observations + now -> actions
store.py     roll-out tables in the gateway journal
serving.py   answers a device's fetch with blk chunks; records upd/hb per device
runner.py    the gateway thread that ticks the engine
cli.py       `hallrate firmware keygen|release|releases|rollout ...`
"""
