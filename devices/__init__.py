"""Device drivers: ID-card readers, QR scanners, ticket printers, and their simulators.

Nothing here imports the rest of Yikou or Kivy, and optional hardware libraries (pyscard, pyusb,
evdev) are imported only when a device needs them.

- ``errors``: the one exception tree, with resident-facing instructions in Chinese and English.
- ``identity``: the ``Identity`` every reader returns; SAM_V text-block decoding, number checks.
- ``open``: ``open_device(kind, url)`` opens any reader, scanner or printer by URL.
- ``reader``: the ``IdReader`` interface (the back-ends import it, never the reverse).
- ``samv``: SAM_V readers on any pyserial port (framing apart from I/O).
- ``pcsc``: PC/SC readers through pyscard (social security cards; bank cards refused).
- ``scanner``: serial and evdev QR scanners, framing, de-duplication.
- ``printer``: ESC/POS tickets (GB18030 or raster), ``DLE EOT`` status.
- ``runner``: a thread per device delivering events to asyncio or Kivy; reconnects; health.
- ``sim``, ``printer_sim``, ``pcsc_sim``: simulators speaking the real byte protocols.
- ``cli``: ``python main.py devices list|check|read-card|scan|print-test``.
"""
