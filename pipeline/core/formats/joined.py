"""Several leaves detected as one text, and the spans mapped back onto the leaves.

The repetitions and components of one HL7 v2 field, or the text nodes of a FHIR narrative, are
detected as one text: a name split across components or inline tags (``<b>Gle</b>nn``) is still one
name, and 10,000 repetitions of a field cost one detection, not 10,000.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pipeline.core.spans import Span, disjoint_spans
from pipeline.core.structured import TextSlot
from pipeline.core.transform import TransformedText

Writer = Callable[[str], None]


class JoinedText:
    """Several leaves detected as one text: ``add`` each leaf's text with a writer that puts its
    de-identified form back; :meth:`slot` gives the one :class:`TextSlot` the detector sees."""

    def __init__(self, separator: str = " ") -> None:
        self.separator = separator
        self.parts: list[tuple[int, int, Writer]] = []
        self._chunks: list[str] = []
        self._length = 0

    def __bool__(self) -> bool:
        return bool(self.parts)

    def add(self, text: str, write: Writer, separator: str | None = None) -> None:
        """One more leaf; ``separator`` (default: the text's own) goes between it and the one before."""
        if self.parts:
            gap = self.separator if separator is None else separator
            self._chunks.append(gap)
            self._length += len(gap)
        self.parts.append((self._length, self._length + len(text), write))
        self._chunks.append(text)
        self._length += len(text)

    @property
    def text(self) -> str:
        return "".join(self._chunks)

    def slot(self, path: str) -> JoinedSlot:
        return JoinedSlot(path, None, None, self.text, self)

    def place(self, result: TransformedText | None, spans: Sequence[Span]) -> None:
        """Write each leaf's part of the de-identified text: a span's replacement goes to the leaf the
        span starts in, and the rest of the span (in later leaves) is removed. None: every leaf empty."""
        if result is None:
            for _, _, write in self.parts:
                write("")
            return
        ordered = disjoint_spans(spans) if spans else []
        replacements = [result.text[o.start : o.end] for o in result.spans]
        if len(replacements) != len(ordered):  # cannot map them back: fail closed, nothing of the text stays
            for _, _, write in self.parts:
                write("")
            return
        original = self.text
        first = 0  # spans are sorted and disjoint, and so are the parts: one pass over both
        for start, end, write in self.parts:
            while first < len(ordered) and ordered[first].end <= start:
                first += 1
            out: list[str] = []
            cursor = start
            for number in range(first, len(ordered)):
                span = ordered[number]
                if span.start >= end:
                    break
                if span.start > cursor:
                    out.append(original[cursor : span.start])
                if span.start >= start:
                    out.append(replacements[number])
                cursor = max(cursor, min(span.end, end))
            out.append(original[cursor:end])
            write("".join(out))


@dataclass(slots=True)
class JoinedSlot(TextSlot):
    """A :class:`TextSlot` standing for several leaves (see :class:`JoinedText`)."""

    joined: JoinedText | None = None

    def replace(self, text: str | None) -> None:
        """The whole text replaced (a test's marker, withheld text as None): it goes into the first
        leaf and the others are emptied; the original text itself is split back onto its leaves."""
        assert self.joined is not None
        parts = self.joined.parts
        if text is not None and text == self.text:
            for start, end, write in parts:
                write(text[start:end])
            return
        for number, (_, _, write) in enumerate(parts):
            write(text or "" if number == 0 else "")

    def place(self, result: TransformedText, spans: Sequence[Span]) -> None:
        assert self.joined is not None
        self.joined.place(result, spans)
