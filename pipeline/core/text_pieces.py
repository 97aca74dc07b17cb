"""Sentences and clauses of clinical text, as summaries cut it: never inside a phrase.

Nursing notes end sentences with '.', '..', '...', a line break, or nothing at all, and join clauses with
',', ';', ' - ' and '--'. '1.4', 'Dr. [NAME]' and 'pt. c/o' do not end a sentence. Pure.
"""

from __future__ import annotations

import re

SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
ABBREVIATIONS = frozenset({"dr.", "mr.", "mrs.", "ms.", "st.", "vs.", "e.g.", "i.e.", "approx.", "no.", "pt.", "occ."})
#: After ',' or ';' and a space, at ' - ' / ' -- ' / '- ' after a word, and after '..' runs.
_CLAUSE_BREAK_RE = re.compile(
    r"(?<=[,;])\s+|\s+-{1,2}\s+|(?<=[A-Za-z)])-{1,2}\s+|(?<=\.\.)(?!\.)\s*(?=\S)|(?<=[.!?])\s+"
)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence (or line) of ``text``, whitespace trimmed, empty ones dropped.

    A break is end punctuation followed by space, or a line break; '1.4' and 'Dr. [NAME]' do not break.
    """
    out: list[tuple[int, int]] = []
    glue = False
    cursor = 0
    for match in [*SENTENCE_BREAK_RE.finditer(text), None]:
        end = match.start() if match is not None else len(text)
        piece = text[cursor:end]
        if piece.strip():
            start = cursor + len(piece) - len(piece.lstrip())
            stop = cursor + len(piece.rstrip())
            if glue and out:
                out[-1] = (out[-1][0], stop)
            else:
                out.append((start, stop))
            glue = piece.lower().rsplit(None, 1)[-1] in ABBREVIATIONS
        cursor = match.end() if match is not None else len(text)
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
    return out
