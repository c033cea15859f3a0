#!/usr/bin/env bash
# Set up everything the hall and its tests need on a fresh Debian/Ubuntu machine (run as root):
# Debian packages, a virtualenv in .venv and the Python dependencies. Idempotent, and quick
# when nothing changed: apt runs only for missing packages, pip only when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages, one per line: what they are for is in the comment beside each.
APT_PACKAGES=(
    python3-venv        # the virtualenv
    python3-dev gcc     # for any dependency that must compile
    sqlite3             # inspecting the embedded database by hand
    postgresql          # the production database; tests start a throwaway cluster
    tzdata              # the hall's time zone
    openssl             # tests make a throwaway certificate for wss:// and https://
    chromium chromium-driver  # headless browser + its WebDriver: the resident ticket page's tests
    fonts-wqy-microhei  # a CJK font: the browser's Chinese, and raster ticket printing (devices)
    pcscd vsmartcard-vpcd   # PC/SC daemon + virtual reader driver: pcsc:// tests start pcscd themselves
    libpcsclite-dev swig    # to build pyscard (the hardware extra), which has no Linux wheel
    libusb-1.0-0            # usb:// ticket printers through pyusb
    xvfb                # a virtual X display: the Kivy screens' tests run under it
    libgl1-mesa-dri     # Mesa OpenGL drivers: Kivy draws with OpenGL, on Xvfb too
    libgl1              # the GL dispatch library (glvnd) Kivy's SDL2 window opens at run time
    fonts-noto-cjk      # Noto Sans CJK: the Chinese font of every screen (ui/fonts.py)
    espeak-ng           # offline speech synthesis for the call voice (cmn voice)
    alsa-utils          # aplay: plays the call voice on the hall's loudspeakers
    sox                 # checks the rendered call voice in the tests (length, loudness)
    libegl1             # EGL/GL dispatch libraries Kivy's SDL2 window loads at run time
    libmtdev1           # multi-touch device library Kivy's input providers load
    systemd             # systemd-analyze: the tests verify the terminals' unit (kiosk.service)
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    echo "setup: creating .venv"
    "$PYTHON" -m venv .venv
fi

stamp=.venv/.yikou-deps
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing Python dependencies"
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q -e '.[postgres,hardware,screens,plots,dev]'
    echo "$want" > "$stamp"
fi
