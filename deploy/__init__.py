"""Installing Yikou's terminals as systemd services (``python main.py install``) and talking
to systemd from the running apps (``terminal.notify``, re-exported as ``deploy.notify``)."""
