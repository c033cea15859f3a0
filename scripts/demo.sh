#!/usr/bin/env bash
# Set everything up (idempotent, quick when nothing changed), then start the demo hall: the queue
# server on 127.0.0.1 (a local SQLite database), a simulated kiosk and staff as its clients, and the
# staff console for window 1 in this terminal; with a display also the kiosk, the main call screen
# and the navigation terminal (the kiosk and the navigator run with --demo: simulated devices,
# every screen marked 演示).
# Arguments go to `main.py demo` (for example: scripts/demo.sh --speed 30 --window 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python main.py demo "$@"
