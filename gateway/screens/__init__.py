"""The evaluator's screens, rendered by the gateway from a CJK font into 1-bit bitmaps and sent as
scr messages (firmware/wire_scr.py): the device holds no font (docs/gateway.md, Screens;
docs/adr/0016-display-gateway-bitmaps.md)."""
