"""Find planted PHI values in output text: the check behind every "nothing leaked" claim.

A value leaks when its sequence of letter-and-digit runs appears, contiguous and case-insensitive, in
an output (see :mod:`pipeline.core.token_match`): ``(390) 996-0308`` is found as ``390-996-0308`` and
``JASON MILLER`` as a leak of ``Jason Miller``. Two things are not leaks and are left out:

- runs of 24 or more base64 characters (tokens, ciphertexts, signatures): random text in which a
  short name such as ``Fox`` turns up by chance;
- a one-word Title-Case value (a surname such as ``Fields``) found only in lower case: that is the
  English word, not the name.

Values made only of words the generator's fixed text also uses (a surname ``Walker`` beside ``gait with
walker``) can be excluded by passing that text as ``benign``. Results name which planted value (by
index) and where, never the value, so a report is safe to print.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pipeline.core.token_match import SequenceIndex, token_positions, tokens

#: Runs of base64 or hex (tokens, ciphertexts, signatures): set aside before a scan, as random text can spell
#: a short planted fragment by chance.
PROTECTED_BLOB = re.compile(r"[A-Za-z0-9+/_=-]{24,}")


@dataclass(frozen=True, slots=True)
class Leak:
    value_index: int
    location: str


class LeakScanner:
    """Index the planted values once; each scan is one pass over the text's tokens."""

    def __init__(self, planted: Sequence[str], *, min_chars: int = 3, benign: str = "") -> None:
        benign_joined = f" {' '.join(tokens(benign))} "
        self._index: SequenceIndex[int] = SequenceIndex()
        self._title_words: set[int] = set()
        for index, value in enumerate(planted):
            seq = tuple(tokens(value))
            if sum(len(t) for t in seq) < min_chars or f" {' '.join(seq)} " in benign_joined:
                continue
            self._index.add(seq, index)
            word = value.strip()
            if len(seq) == 1 and word[:1].isupper() and word[1:].islower():
                self._title_words.add(index)

    @property
    def size(self) -> int:
        return self._index.size

    def scan(self, text: str, location: str) -> list[Leak]:
        visible = PROTECTED_BLOB.sub(" ", text)
        positions = token_positions(visible)
        leaks = []
        for first, _, index in self._index.matches([t for _, _, t in positions]):
            if index in self._title_words:
                start, end, _ = positions[first]
                if visible[start:end].islower():
                    continue
            leaks.append(Leak(index, location))
        return leaks

    def scan_all(self, texts: Iterable[tuple[str, str]]) -> list[Leak]:
        """``texts`` yields (location, text) pairs."""
        leaks: list[Leak] = []
        for location, text in texts:
            leaks.extend(self.scan(text, location))
        return leaks
