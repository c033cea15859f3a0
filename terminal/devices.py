"""A terminal's devices: which URL each comes from, and what the Kivy side may use of them.

``terminal_devices`` picks each device's URL (command line, the terminal's ``[[devices]]``
entry, or a simulator only with ``--demo``) and refuses the start when one is named nowhere;
``open_workers`` opens them (``devices.open.open_device``) each in its worker thread. The
Kivy side (``ui``) imports nothing of ``devices`` but what is re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable

from devices.open import open_device
from devices.runner import DeviceEvent, EventKind, PrinterWorker, ReaderWorker, ScannerWorker
from devices.sim import SAMPLE_CARDS
from queue_server.config import ROLE_DEVICES, ConfigError, HallConfig

__all__ = ["SAMPLE_CARDS", "DeviceEvent", "EventKind", "open_workers", "terminal_devices"]

DEVICE_WORDS = {"reader": "ID reader", "printer": "printer", "scanner": "QR scanner"}


def terminal_devices(
    config: HallConfig,
    device_id: str,
    role: str,
    given: dict[str, str | None],
    *,
    demo: bool,
) -> dict[str, str]:
    """This terminal's device URLs: each from the command line (``given``), else from its
    ``[[devices]]`` entry, else, only when started with ``--demo``, its simulator (``sim://``).

    A device named nowhere outside a demo raises ConfigError naming the setting: a hall's
    terminal must never issue tickets to simulated identities because a URL was forgotten.
    """
    index, entry = next(
        ((i, d) for i, d in enumerate(config.devices) if d.id == device_id), (None, None)
    )
    if entry is not None and entry.role != role:
        raise ConfigError(
            f"{device_id} is a {entry.role}, not a {role}", field=f"devices[{index}].role"
        )
    urls: dict[str, str] = {}
    for kind in ROLE_DEVICES[role]:
        url = given.get(kind) or (getattr(entry, kind) if entry is not None else None)
        if url is None:
            if not demo:
                raise ConfigError(_unnamed(device_id, role, kind, index))
            url = "sim://"
        urls[kind] = url
    return urls


def _unnamed(device_id: str, role: str, kind: str, index: int | None) -> str:
    word = DEVICE_WORDS[kind]
    if index is None:
        where = f'devices: no entry with id = "{device_id}" names this {role}\'s {word}; add one'
    else:
        where = f"devices[{index}].{kind}: this {role}'s {word} is not set; set it"
    return (
        f'{where} with {kind} = "URL" (or pass --{kind} URL), or start with --demo to use '
        "simulators"
    )


def open_workers(
    urls: dict[str, str], printer_profile: str | None, sink: Callable[[DeviceEvent], None]
) -> dict[str, object]:
    """Each named device opened by URL, in its worker (a printer URL "none": no printer). The
    workers are named "id", "qr" and "printer" (the parts "reader", "scanner", "printer")."""
    workers: dict[str, object] = {
        "reader": ReaderWorker("id", open_device("reader", urls["reader"]), sink),
        "scanner": ScannerWorker("qr", open_device("scanner", urls["scanner"]), sink),
    }
    if urls.get("printer", "none") != "none":
        printer = open_device("printer", urls["printer"], profile=printer_profile)
        workers["printer"] = PrinterWorker("printer", printer, sink)
    return workers
