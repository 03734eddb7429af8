"""Screens, LEDs and the voice/display hook: what the citizen sees. Never the pressed level."""

TEXTS = {
    "zh": {
        "idle": "",
        "ask": "请评价",
        "thanks": "谢谢您的评价",
        "paused": "暂停服务",
    },
    "en": {
        "idle": "",
        "ask": "Please rate our service",
        "thanks": "Thank you for your rating",
        "paused": "Service paused",
    },
}

# LED pattern per screen: (ask LED, thanks LED). The staff-side LED only shows "rated".
_LEDS = {"ask": (1, 0), "thanks": (0, 1)}


class Display:
    """Drives the hal's LEDs and its text/voice hook (a small display or an MP3 module)."""

    def __init__(self, hal, lang="zh"):
        self.hal = hal
        self.lang = lang if lang in TEXTS else "zh"
        self.screen = "idle"
        self.staff = None  # {"id": 工号, "name": ...} of the logged-in staff, from cfg

    def text(self, screen):
        if screen == "idle" and self.staff:
            return "%s %s" % (self.staff.get("id", ""), self.staff.get("name", ""))
        return TEXTS[self.lang].get(screen, "")

    def show(self, screen):
        self.screen = screen
        ask, thanks = _LEDS.get(screen, (0, 0))
        self.hal.led("ask", ask)
        self.hal.led("thanks", thanks)
        # Staff side: lit while a rating is pending; off after it, whatever the level was.
        self.hal.led("staff", ask)
        self.hal.show(screen, self.text(screen))
