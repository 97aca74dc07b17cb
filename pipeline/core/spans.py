"""A detected PHI span: where it is, what it is, how sure, and who said so.

Spans never carry the text they cover; callers slice the source when (and only when) they must
transform it. That keeps a span safe to log, count and put in metrics or audit events.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from pipeline.core.phi_types import PhiType


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """Character offsets into the source text, end exclusive."""

    start: int
    end: int
    type: PhiType
    score: float = 1.0
    detector: str = "unknown"
    #: Why the detector fired (pattern name, context word found, checksum passed); never the value.
    reasons: tuple[str, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.start < 0 or self.end <= self.start:
            raise ValueError(f"invalid span offsets [{self.start}, {self.end})")

    @property
    def length(self) -> int:
        return self.end - self.start

    def overlaps(self, other: Span) -> bool:
        return self.start < other.end and other.start < self.end


def disjoint_spans(spans: Iterable[Span]) -> list[Span]:
    """``spans`` sorted by start with every overlap joined into one span; the higher score's type wins.

    One rule for every place that replaces spans in text (the transform engine, the summary guard's
    re-scan), so a character is never replaced twice and the same overlap gets the same type wherever
    it is resolved. A tie keeps the earlier span's type. Offsets are not checked against any text: callers
    that have the text reject spans past its end first.
    """
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start < merged[-1].end:
            last = merged[-1]
            winner = last if last.score >= span.score else span
            merged[-1] = Span(last.start, max(last.end, span.end), winner.type, winner.score, winner.detector)
        else:
            merged.append(span)
    return merged
