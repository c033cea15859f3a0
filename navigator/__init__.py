"""Kivy app for the navigation terminals (导航信息机)."""
