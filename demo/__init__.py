"""The demo hall (``main.py demo``): a server, simulated kiosk and staff, and a console for you."""
