# The pinned custom build (docs/provisioning.md, "Custom build"; ADR 0017): MicroPython v1.28.0,
# ports/esp32, BOARD=ESP32_GENERIC_S3 BOARD_VARIANT=SPIRAM_OCT (or BOARD=ESP32_GENERIC):
#
#   make -C ports/esp32 BOARD=ESP32_GENERIC_S3 BOARD_VARIANT=SPIRAM_OCT \
#        FROZEN_MANIFEST=/path/to/hallrate/firmware/board/manifest.py
#
# It freezes the port's own modules except its _boot.py, this directory's recovering _boot.py and
# recover.py, and the firmware: the boot stage (main.py, loader.py) and the application modules
# (the list tests/firmware/test_board_build.py checks against gateway/firmware_bundle.app_sources).
# Frozen bytecode runs from flash: no heap for code, and main.py runs even on a reformatted
# filesystem. The port's modules/ of v1.28.0 without _boot.py (check when the pin moves):
module("flashbdev.py", base_path="$(PORT_DIR)/modules")
module("inisetup.py", base_path="$(PORT_DIR)/modules")
module("espnow.py", base_path="$(PORT_DIR)/modules")
module("apa106.py", base_path="$(PORT_DIR)/modules")
include("$(MPY_DIR)/extmod/asyncio")
require("neopixel")
require("ntptime")

module("_boot.py")
module("recover.py")

FIRMWARE = (
    "main.py",
    "loader.py",
    "app.py",
    "ballot_app.py",
    "ballot_box.py",
    "ballot_start.py",
    "beam_count.py",
    "beam_setup.py",
    "buttons.py",
    "cfg_apply.py",
    "display.py",
    "display_st7789.py",
    "ed25519.py",
    "evaluator.py",
    "evaluator_app.py",
    "factory_test.py",
    "hb.py",
    "link_tls.py",
    "mqtt_connect.py",
    "mqtt_link.py",
    "online.py",
    "ota.py",
    "ota_check.py",
    "ota_image.py",
    "ota_install.py",
    "outbox.py",
    "outbox_load.py",
    "outbox_scan.py",
    "pins.py",
    "probation.py",
    "resend.py",
    "sntp.py",
    "startup.py",
    "supervisor.py",
    "wire.py",
    "wire_ota.py",
    "wire_scr.py",
)
for _name in FIRMWARE:
    module(_name, base_path="..")
package("hal", files=("__init__.py", "esp32.py"), base_path="..")
