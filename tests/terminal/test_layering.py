"""The terminals' layering: ``terminal`` imports no Kivy; ``ui`` imports no app, and of ours only
``terminal``; no app imports ``deploy`` or ``queue_server.cli``."""

from __future__ import annotations

import subprocess
import sys

import grimp

OURS = ("content", "devices", "queue_server", "terminal", "ui", "kiosk", "navigator", "signage",
        "deploy", "console", "sim", "demo", "tools")  # fmt: skip


def test_terminal_imports_no_kivy():
    modules = "terminal.app, terminal.devices, terminal.flow, terminal.health, " + (
        "terminal.notify, terminal.runtime, terminal.text"
    )
    code = f"import sys, {modules}; assert 'kivy' not in sys.modules, 'kivy imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def _imports(graph, package: str) -> set[str]:
    """The top-level packages of ours that ``package``'s modules import."""
    found = set()
    for module in graph.find_descendants(package) | {package}:
        for imported in graph.find_modules_directly_imported_by(module):
            top = imported.split(".")[0]
            if top != package:
                found.add(imported if top == "queue_server" else top)
    return found


ALLOWED = {
    "ui": {"terminal"},
    "terminal": {"queue_server.client", "queue_server.protocol", "queue_server.config", "devices",
                 "content"},
    # queue_server.engine.commands: until the commands move into queue_server.protocol.
    **{app: {"terminal", "ui", "queue_server.client", "queue_server.protocol",
             "queue_server.config", "queue_server.engine.commands", "devices", "content"}
       for app in ("kiosk", "navigator", "signage")},
    "devices": set(),
}  # fmt: skip


def test_ui_terminal_and_the_apps_import_only_what_they_may():
    graph = grimp.build_graph(*[p for p in OURS if p != "tools"], include_external_packages=False)
    for package, allowed in ALLOWED.items():
        assert _imports(graph, package) <= allowed, package
    # The reader interface and its back-ends: the back-ends import it, never the reverse.
    for backend in ("devices.samv", "devices.pcsc", "devices.sim"):
        assert graph.find_shortest_chain("devices.reader", backend) is None, backend
    external = grimp.build_graph("terminal", include_external_packages=True)
    assert not external.find_upstream_modules("terminal", as_package=True) & {"kivy"}
