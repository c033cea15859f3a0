"""Hall days on a simulated clock through the real engine (``main.py simulate``); day profiles."""
