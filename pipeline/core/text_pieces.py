"""Sentences and clauses of clinical text, as summaries cut it: never inside a phrase.

Nursing notes end sentences with '.', '..', '...', a line break, or nothing at all, and join clauses with
',', ';', ' - ' and '--'. '1.4', 'Dr. [NAME]' and 'pt. c/o' do not end a sentence. Pure.
"""

from __future__ import annotations

import re

#: '.', '!' or a '?' that ends a word, then space; or a line break. A '?' after a space is the nurse's "query"
#: ('lytes ? plan for dialysis', '?pneumonia') and belongs to what follows it.
SENTENCE_BREAK_RE = re.compile(r"(?<=[.!])\s+|(?<=[^\s?]\?)\s+|\s*\n\s*")
ABBREVIATIONS = frozenset({"dr.", "mr.", "mrs.", "ms.", "st.", "vs.", "e.g.", "i.e.", "approx.", "no.", "pt.", "occ."})
#: After ',' or ';' and a space, at ' - ' / ' -- ' / '- ' after a word, and after a sentence end and a space.
_CLAUSE_BREAK_RE = re.compile(r"(?<=[,;])\s+|\s+-{1,2}\s+|(?<=[A-Za-z)])-{1,2}\s+|(?<=[.!])\s+|(?<=[^\s?]\?)\s+")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence (or line) of ``text``, whitespace trimmed, empty ones dropped.

    A break is end punctuation followed by space, or a line break; '1.4' and 'Dr. [NAME]' do not break, and
    a lone '?' (the nurse's "uncertain") stays with the sentence after it: '? plan for dialysis'.
    """
    out: list[tuple[int, int]] = []
    glue = False
    pending: int | None = None  # start of a piece of punctuation alone ('?'), kept with the next sentence
    cursor = 0
    for match in [*SENTENCE_BREAK_RE.finditer(text), None]:
        end = match.start() if match is not None else len(text)
        piece = text[cursor:end]
        if piece.strip():
            start = cursor + len(piece) - len(piece.lstrip())
            stop = cursor + len(piece.rstrip())
            if not any(c.isalnum() for c in piece):
                pending = start if pending is None else pending
            elif glue and out:
                out[-1] = (out[-1][0], stop)
            else:
                out.append((start if pending is None else pending, stop))
                pending = None
            glue = piece.lower().rsplit(None, 1)[-1] in ABBREVIATIONS
        cursor = match.end() if match is not None else len(text)
    if pending is not None:
        out.append((pending, len(text.rstrip())))
    return out


def sentences(text: str) -> list[str]:
    """The sentences of :func:`sentence_spans`, as text."""
    return [text[a:b] for a, b in sentence_spans(text)]


def clauses(text: str) -> list[str]:
    """The clauses of one sentence or line, each keeping its own punctuation ('a, b - c' -> 'a,', 'b -', ...
    as written, so that joining them with single spaces gives the text back with whitespace collapsed)."""
    flat = " ".join(text.split())
    out: list[str] = []
    start = 0
    for match in _CLAUSE_BREAK_RE.finditer(flat):
        piece = flat[start : match.start()] + flat[match.start() : match.end()].rstrip()
        if piece.strip():
            out.append(piece.strip())
        start = match.end()
    if flat[start:].strip():
        out.append(flat[start:].strip())
    merged: list[str] = []
    for piece in out:  # a clause of punctuation alone ('?') belongs to the clause after it
        if merged and not any(c.isalnum() for c in merged[-1]):
            merged[-1] = f"{merged[-1]} {piece}"
        else:
            merged.append(piece)
    return merged
