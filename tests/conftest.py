"""Fixtures shared across test folders."""

# The Xvfb display of the Kivy apps' tests (tests/kiosk, tests/navigator, tests/signage).
from tests.support.screens import display  # noqa: F401
