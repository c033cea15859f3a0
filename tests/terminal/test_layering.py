"""The terminals' layering beyond the import contracts: ``terminal`` imports no Kivy even
indirectly, and the reader interface imports none of its back-ends."""

from __future__ import annotations

import subprocess
import sys

import grimp


def test_terminal_imports_no_kivy():
    modules = "terminal.app, terminal.devices, terminal.flow, terminal.health, " + (
        "terminal.notify, terminal.runtime, terminal.text"
    )
    code = f"import sys, {modules}; assert 'kivy' not in sys.modules, 'kivy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_reader_interface_imports_none_of_its_back_ends():
    """What each package may import is the contracts' (tests/test_architecture.py); this is the
    one rule inside a package: the back-ends import the reader interface, never the reverse."""
    graph = grimp.build_graph("devices", include_external_packages=False)
    for backend in ("devices.samv", "devices.pcsc", "devices.sim"):
        assert graph.find_shortest_chain("devices.reader", backend) is None, backend
