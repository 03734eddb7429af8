"""Hardware layers: esp32 (machine.Pin, network.WLAN) and unix (simulated pins, real sockets)."""
