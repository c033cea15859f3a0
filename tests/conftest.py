"""Fixtures shared across test folders."""

import shutil

import pytest

from harness.screens import xvfb


@pytest.fixture(scope="module")
def display():
    """One Xvfb display for a test module's Kivy scenarios (tests/kiosk, navigator, signage)."""
    assert shutil.which("Xvfb"), "Xvfb is missing: run scripts/setup.sh"
    with xvfb() as name:
        yield name
