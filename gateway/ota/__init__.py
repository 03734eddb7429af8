"""Firmware updates on the gateway side: release signing, the release store and roll-outs.

docs/firmware.md (Updates) and docs/adr/0012-firmware-updates.md.
"""
