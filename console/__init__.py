"""The staff terminal console (``main.py counter``): one window's keys, over the server's client."""
