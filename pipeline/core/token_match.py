"""Find known token sequences in text in one pass: the engine behind record-context detection and leak scans.

Text is cut into runs of letters and digits (any script), lower-cased; a value matches when its own runs appear
contiguous in the text, whatever separates them (``(390) 996-0308`` matches ``390.996.0308``, ``Al``
never matches inside ``Alert``). Sequences are indexed by their first token, so a scan costs one
dictionary look-up per token of text, not one regex per value: thousands of values cost no more to
scan for than ten.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterator
from typing import Generic, TypeVar

_TOKEN = re.compile(r"[^\W_]+")
Label = TypeVar("Label")


def tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


def token_positions(text: str) -> list[tuple[int, int, str]]:
    """(start, end, lower-cased token) for every run of letters and digits."""
    return [(m.start(), m.end(), m.group().lower()) for m in _TOKEN.finditer(text)]


class SequenceIndex(Generic[Label]):
    """Token sequences, each with a label, looked up by first token."""

    def __init__(self) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], Label]]] = defaultdict(list)
        self.size = 0

    def add(self, sequence: tuple[str, ...], label: Label) -> None:
        if sequence:
            self._by_first[sequence[0]].append((sequence, label))
            self.size += 1

    def matches(self, text_tokens: list[str]) -> Iterator[tuple[int, int, Label]]:
        """(first token index, token count, label) for every occurrence of every sequence."""
        for position, token in enumerate(text_tokens):
            for sequence, label in self._by_first.get(token, ()):
                end = position + len(sequence)
                if end <= len(text_tokens) and tuple(text_tokens[position:end]) == sequence:
                    yield position, len(sequence), label
