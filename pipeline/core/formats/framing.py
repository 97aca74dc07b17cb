"""HL7 v2 framing in a file or a stream: where one message ends and the next begins.

A message starts at its MSH segment, at any segment boundary: messages separated by blank lines, by
one carriage return, or each in an MLLP frame (``0x0B`` ... ``0x1C 0x0D``) are all found. A file or
batch (FHS/BHS ... BTS/FTS) stays one input: its processor protects every message inside it and the
envelope segments too. Segments come out ended by a carriage return, as HL7 v2 requires.
"""

from __future__ import annotations

import re

_BREAKS = re.compile(r"\r\n|\r|\n|\x0b|\x1c")
_BATCH_HEADERS = ("FHS", "BHS")


def segments(text: str) -> list[str]:
    """The non-blank segments of ``text``, whatever ends them (CR, LF, CRLF or MLLP framing)."""
    return [line for line in _BREAKS.split(text) if line.strip(" \t\x00")]


def split_hl7(text: str) -> list[str]:
    """The messages in ``text``, each as carriage-return-ended segments; a file or batch is one."""
    lines = segments(text)
    if not lines:
        return []
    if lines[0].startswith(_BATCH_HEADERS):
        return ["\r".join(lines) + "\r"]
    messages: list[list[str]] = []
    for line in lines:
        if line.startswith("MSH") or not messages:
            messages.append([line])
        else:
            messages[-1].append(line)
    return ["\r".join(message) + "\r" for message in messages]
