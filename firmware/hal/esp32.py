"""ESP32 hardware layer: machine.Pin, esp32.PCNT, PWM, network.WLAN, machine.WDT, the RTC, UART.

Nothing here runs at import time; the app gets an Esp32Hal instance (dependency injection).
"""

import asyncio
import time

import machine
import network

_WIFI_TIMEOUT_MS = 15000
_INPUT_ONLY = (34, 35, 36, 37, 38, 39)  # plain ESP32: no internal pull-ups on these


class Esp32Hal:
    platform = "esp32"

    def __init__(self, conf, pins):
        self.conf = conf
        self.pins = pins
        self._wlan = None
        self._leds = {}
        self._drop_cbs = []
        self._ntp_ok = False
        self._ir = None
        self._pwm = None  # the buzzer's
        self._in = {}  # role+index -> its Pin (the PCNT shares the confirm pins)
        self._pcnt = None
        self._hw = []  # counts accumulated from the PCNT units (reset at 10000)
        self.on_screen = None  # a voice driver may hook here: fn(screen, text)

    # ---- time, memory, log --------------------------------------------------------------------

    def clock(self):
        """The wall clock's source when it is valid ("ntp", "rtc"), else None."""
        if self._ntp_ok:
            return "ntp"
        return "rtc" if time.gmtime()[0] >= 2024 else None

    def set_clock(self, t):
        """Set the RTC to epoch seconds ``t`` (firmware/sntp.py): it survives WDT and soft
        resets."""
        tm = time.gmtime(t - (946684800 if time.gmtime(0)[0] == 2000 else 0))
        machine.RTC().datetime((tm[0], tm[1], tm[2], tm[6] + 1, tm[3], tm[4], tm[5], 0))
        self._ntp_ok = True

    def log(self, obj):
        if self.conf.get("debug"):
            print(obj)

    def reset(self, why=""):
        """A deliberate reset; the next boot reports ``why`` as its reset cause (loader.py)."""
        if self.conf.get("root"):
            import loader

            loader.request_reset(self.conf["root"], why)
        machine.reset()

    # ---- health (hb fields) -------------------------------------------------------------------

    def reset_cause(self):
        """machine.reset_cause() as an hb "rc" word (when the boot stage recorded no cause)."""
        c = machine.reset_cause()
        for name, word in (
            ("PWRON_RESET", "power_on"),
            ("HARD_RESET", "hard"),
            ("WDT_RESET", "wdt"),
            ("DEEPSLEEP_RESET", "deepsleep"),
            ("SOFT_RESET", "soft"),
            ("BROWNOUT_RESET", "brownout"),
        ):
            if getattr(machine, name, None) == c:
                return word
        return "unknown"

    def uid(self):
        """machine.unique_id() in hex (the Wi-Fi MAC on the ESP32)."""
        import binascii

        return binascii.hexlify(machine.unique_id()).decode()

    def largest_free(self):
        """The largest free block of the IDF data heaps (where TLS buffers are allocated)."""
        import esp32

        best = 0
        for h in esp32.idf_heap_info(esp32.HEAP_DATA):
            if h[2] > best:
                best = h[2]
        return best

    # ---- pins, display ------------------------------------------------------------------------

    def _gpio(self, role, index):
        if role == "button":
            return self.pins["buttons"][index]
        if role == "beam":  # a slot's entry beam; "confirm": its deeper confirm beam
            return self.pins["beams"][index]
        if role == "confirm":
            return self.pins["confirm"][index]
        return self.pins[role]

    def input(self, role, index=0):
        key = role + str(index)
        pin = self._in.get(key)
        if pin is not None:
            return pin
        if role == "beam" or role == "confirm":
            self._ir_on()
        n = self._gpio(role, index)
        if n in _INPUT_ONLY and self.conf.get("board") == "esp32":
            pin = machine.Pin(n, machine.Pin.IN)  # external pull-up on the board
        else:
            pin = machine.Pin(n, machine.Pin.IN, machine.Pin.PULL_UP)
        self._in[key] = pin
        return pin

    def _ir_on(self):
        # The barrier receivers (TSSP4038SS1XB) answer a 38 kHz burst only: PWM on each slot's
        # MOSFET driver, 50 % (the largest carrier) until the firmware calibrates the duty.
        if self._ir is None and "ir" in self.pins:
            self._ir = []
            for n in self.pins["ir"]:  # one driver per slot
                pin = machine.Pin(n, machine.Pin.OUT)
                self._ir.append(machine.PWM(pin, freq=38000, duty_u16=32768))

    def ir_duty(self, slot, duty):
        """Slot ``slot``'s emitter drive: the 38 kHz PWM duty (duty_u16, 0 = off)."""
        self._ir_on()
        if self._ir:
            self._ir[slot].duty_u16(duty)

    def beam_counts(self):
        """Confirm-beam block edges per slot, counted in silicon by one esp32.PCNT unit per slot
        (rising edges: blocked reads high; glitch filter 1023 APB ticks, 12.8 us)."""
        import esp32

        units = self._pcnt
        if units is None:
            units = self._pcnt = []
            for i in range(len(self.pins.get("confirm", ()))):
                u = esp32.PCNT(
                    i, pin=self.input("confirm", i), rising=esp32.PCNT.INCREMENT, filter=1023
                )
                u.start()
                units.append(u)
                self._hw.append(0)
        out = []
        for i in range(len(units)):
            u = units[i]
            v = u.value()
            if v >= 10000:  # stay far from the 16-bit limit; the reset is not atomic (an edge
                u.value(0)  # in between is one the sampler sees: a deficit never invented)
                self._hw[i] += v
                v = 0
            out.append(self._hw[i] + v)
        return out

    def led(self, name, on):
        n = self.pins.get("leds", {}).get(name)
        if n is None:
            return
        pin = self._leds.get(name)
        if pin is None:
            pin = self._leds[name] = machine.Pin(n, machine.Pin.OUT)
        pin.value(1 if on else 0)

    def show(self, screen, text):
        if self.on_screen is not None:
            self.on_screen(screen, text)

    def panel(self):
        """The ST7789 of the pin map's `display` (firmware/display_st7789.py), or None. SPI id 2
        (VSPI: GPIO18/19 are its IO_MUX pins) on a plain ESP32, 1 (SPI2) on the S3, 40 MHz."""
        d = self.pins.get("display")
        if not d:
            return None
        from display_st7789 import ST7789

        Pin = machine.Pin
        spi = machine.SPI(
            2 if self.conf.get("board") == "esp32" else 1,
            baudrate=40000000,
            sck=Pin(d["sck"]),
            mosi=Pin(d["mosi"]),
        )
        rst = Pin(d["rst"], Pin.OUT) if "rst" in d else None
        return ST7789(spi, Pin(d["cs"], Pin.OUT), Pin(d["dc"], Pin.OUT), rst, Pin(d["bl"], Pin.OUT))

    def beep(self, ms):
        """A short beep on the optional piezo (pin map `buzzer`): 2.7 kHz LEDC PWM, stopped by a
        task ``ms`` later, so the caller does not wait."""
        n = self.pins.get("buzzer")
        if n is None:
            return
        pwm = self._pwm
        if pwm is None:
            pwm = self._pwm = machine.PWM(machine.Pin(n), freq=2700, duty_u16=0)
        pwm.duty_u16(32768)
        asyncio.create_task(self._quiet(pwm, ms))  # noqa: RUF006

    async def _quiet(self, pwm, ms):
        await asyncio.sleep_ms(ms)
        pwm.duty_u16(0)

    def reader(self, slot):
        for r in self.pins.get("readers", ()):
            if r["slot"] == slot and self.conf.get("readers", False):
                uart = machine.UART(r["uart"], baudrate=r["baud"], rx=r["rx"], tx=r["tx"])
                return asyncio.StreamReader(uart)
        return None

    def watchdog(self, timeout_ms):
        return machine.WDT(timeout=timeout_ms)

    # ---- network ------------------------------------------------------------------------------

    async def wifi_connect(self):
        if self._wlan is None:
            try:  # a DHCP host name the hall's router shows: the device id (letters, digits, -)
                network.hostname(self.conf["device"].replace("_", "-").replace(".", "-"))
            except Exception:
                pass
            self._wlan = network.WLAN(network.STA_IF)
            self._wlan.active(True)
            # Mains-powered: no modem sleep (it glitches GPIO36/39, errata 3.11, and delays
            # every downlink by up to a DTIM interval).
            self._wlan.config(pm=self._wlan.PM_NONE)
        wlan = self._wlan
        if wlan.isconnected():
            return True
        wlan.connect(self.conf.get("wifi_ssid", ""), self.conf.get("wifi_password", ""))
        t0 = time.ticks_ms()
        while not wlan.isconnected():
            if time.ticks_diff(time.ticks_ms(), t0) > _WIFI_TIMEOUT_MS:
                wlan.disconnect()
                return False
            await asyncio.sleep_ms(200)
        return True

    def wifi_up(self):
        return self._wlan is not None and self._wlan.isconnected()

    def rssi(self):
        wlan = self._wlan
        if wlan is None or not wlan.isconnected():
            return None
        try:
            return wlan.status("rssi")
        except Exception:
            return None

    def on_wifi_down(self, cb):
        self._drop_cbs.append(cb)

    async def open_connection(self, host, port):
        if self.conf.get("broker_tls"):  # firmware/link_tls.py, loaded only for TLS
            return await __import__("link_tls").connect(self, host, port)
        return await asyncio.open_connection(host, port)

    # ---- flash --------------------------------------------------------------------------------

    def outbox_write(self, f, data):
        f.write(data)

    # ---- supervision --------------------------------------------------------------------------

    async def control(self, app):
        """No test channel on a board: watch Wi-Fi and tell the link when it drops. Never ends."""
        was_up = False
        while True:
            up = self.wifi_up()
            if was_up and not up:
                for cb in self._drop_cbs:
                    cb()
            was_up = up
            await asyncio.sleep_ms(1000)
