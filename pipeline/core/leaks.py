"""Find planted PHI values in output text: the check behind every "nothing leaked" claim.

A value leaks when its sequence of alphanumeric tokens appears, contiguous and case-insensitive,
in an output: so ``(390) 996-0308`` is found as ``390-996-0308`` too, and the first name ``Al`` is
not found inside ``Alert``. Values made only of words the generator's fixed text also uses (a
surname "Walker" beside "gait with walker") can be excluded by passing that text as ``benign``.
Results name which planted value (by index) and where, never the value, so a report is safe to print.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_TOKEN = re.compile(r"[A-Za-z0-9]+")


def tokens(text: str) -> list[str]:
    return [t.lower() for t in _TOKEN.findall(text)]


@dataclass(frozen=True, slots=True)
class Leak:
    value_index: int
    location: str


class LeakScanner:
    """Index the planted values once by first token; each scan is one pass over the text's tokens."""

    def __init__(self, planted: Sequence[str], *, min_chars: int = 3, benign: str = "") -> None:
        benign_joined = f" {' '.join(tokens(benign))} "
        self._by_first: dict[str, list[tuple[int, tuple[str, ...]]]] = defaultdict(list)
        self.size = 0
        for index, value in enumerate(planted):
            seq = tuple(tokens(value))
            if sum(len(t) for t in seq) < min_chars or f" {' '.join(seq)} " in benign_joined:
                continue
            self._by_first[seq[0]].append((index, seq))
            self.size += 1

    def scan(self, text: str, location: str) -> list[Leak]:
        found: list[Leak] = []
        toks = tokens(text)
        for position, token in enumerate(toks):
            for index, seq in self._by_first.get(token, ()):
                if tuple(toks[position : position + len(seq)]) == seq:
                    found.append(Leak(index, location))
        return found

    def scan_all(self, texts: Iterable[tuple[str, str]]) -> list[Leak]:
        """``texts`` yields (location, text) pairs."""
        leaks: list[Leak] = []
        for location, text in texts:
            leaks.extend(self.scan(text, location))
        return leaks
