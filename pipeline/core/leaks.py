"""Find planted PHI values in output text: the check behind every "nothing leaked" claim.

A value leaks when its sequence of letter-and-digit runs appears, contiguous and case-insensitive, in
an output (see :mod:`pipeline.core.token_match`). Values made only of words the generator's fixed text
also uses (a surname "Walker" beside "gait with walker") can be excluded by passing that text as
``benign``. Results name which planted value (by index) and where, never the value, so a report is
safe to print.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.core.token_match import SequenceIndex, tokens


@dataclass(frozen=True, slots=True)
class Leak:
    value_index: int
    location: str


class LeakScanner:
    """Index the planted values once; each scan is one pass over the text's tokens."""

    def __init__(self, planted: Sequence[str], *, min_chars: int = 3, benign: str = "") -> None:
        benign_joined = f" {' '.join(tokens(benign))} "
        self._index: SequenceIndex[int] = SequenceIndex()
        for index, value in enumerate(planted):
            seq = tuple(tokens(value))
            if sum(len(t) for t in seq) >= min_chars and f" {' '.join(seq)} " not in benign_joined:
                self._index.add(seq, index)

    @property
    def size(self) -> int:
        return self._index.size

    def scan(self, text: str, location: str) -> list[Leak]:
        return [Leak(index, location) for _, _, index in self._index.matches(tokens(text))]

    def scan_all(self, texts: Iterable[tuple[str, str]]) -> list[Leak]:
        """``texts`` yields (location, text) pairs."""
        leaks: list[Leak] = []
        for location, text in texts:
            leaks.extend(self.scan(text, location))
        return leaks
