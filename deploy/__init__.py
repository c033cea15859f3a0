"""Installing Yikou's terminals as systemd services (``python main.py install``). The running
apps talk to systemd through ``terminal.notify``."""
