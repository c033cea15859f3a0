"""Nothing personal reaches a log, at any level: the filter every log handler carries.

Two leaks it closes at the logging boundary, whoever logs:

- The websocket library logs every frame at DEBUG (``< TEXT '{"type": "command", ...}'``): a
  frame may carry a resident's document number or form. Its records below INFO are dropped.
- A message or traceback that quotes input (an exception's text, a frame a library echoed):
  document numbers in it are masked before any handler writes it.

The code itself never logs a number or a form; this is the net under that rule.
"""

from __future__ import annotations

import logging
import re

# A mainland ID number (18 characters, the last a digit or X; 15 for the old cards), and any
# value of a JSON "number" field (the other document types have no fixed shape).
_ID_NUMBER = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|\d{15})(?![0-9A-Za-z])")
_NUMBER_FIELD = re.compile(r"""(["']number["']\s*:\s*)(["'])(?:(?!\2).){0,64}\2""")
MASK = "[redacted]"


def redact(text: str) -> str:
    """``text`` with every document number in it masked."""
    text = _NUMBER_FIELD.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}{m.group(2)}", text)
    return _ID_NUMBER.sub(MASK, text)


class RedactingFilter(logging.Filter):
    """Drops the websocket library's frame logs and masks document numbers in the rest."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("websockets") and record.levelno < logging.INFO:
            return False
        message = record.getMessage()
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def install() -> None:
    """Put the filter on every handler of the root logger (call after configuring logging)."""
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
