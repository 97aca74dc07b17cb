"""Merge spans from all recognizers and models into one non-overlapping, typed set.

Steps, per cluster of overlapping spans (found with one sweep over sorted spans, so the cost is
O(n log n) in the number of candidates):

1. spans of the same type that overlap become one span covering both (a model's 'John' and a rule's
   'John Smith' give 'John Smith'); agreement between different detectors raises the score;
2. spans below their type's threshold are dropped (thresholds are low: recall matters more than
   precision when the cost of a miss is a leaked identifier);
3. the best remaining span (score, then type priority, then length) keeps its extent; any other type
   overlapping it keeps only the parts outside it, so no character a detector flagged is lost.

Reasons from every contributing detector are kept (they never contain values). Both the rules-only
detector and the rules-plus-models ensemble merge through this one module.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

#: Minimum score kept per type; anything absent uses ``DEFAULT_THRESHOLD``.
DEFAULT_THRESHOLD = 0.4
DEFAULT_THRESHOLDS: Mapping[PhiType, float] = {
    PhiType.NAME: 0.5,
    PhiType.AGE: 0.5,
    PhiType.ZIP: 0.45,
    PhiType.CITY: 0.45,
}

#: Tie-breaker when scores are equal: identifiers with checksums or rigid shapes first, catch-all last.
TYPE_PRIORITY: tuple[PhiType, ...] = (
    PhiType.EMAIL,
    PhiType.URL,
    PhiType.SSN,
    PhiType.IP,
    PhiType.FAX,
    PhiType.PHONE,
    PhiType.MRN,
    PhiType.HEALTH_PLAN,
    PhiType.ACCOUNT,
    PhiType.LICENSE,
    PhiType.VEHICLE,
    PhiType.DEVICE,
    PhiType.BIOMETRIC,
    PhiType.DATE,
    PhiType.AGE,
    PhiType.STREET,
    PhiType.ZIP,
    PhiType.FACILITY,
    PhiType.NAME,
    PhiType.CITY,
    PhiType.LOCATION,
    PhiType.PHOTO,
    PhiType.ID,
)
_RANK = {t: i for i, t in enumerate(TYPE_PRIORITY)}
_AGREEMENT_BONUS = 0.1


@dataclass(frozen=True)
class Ensemble:
    """Merging policy: per-type thresholds and the bonus for independent agreement."""

    thresholds: Mapping[PhiType, float] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    default_threshold: float = DEFAULT_THRESHOLD
    agreement_bonus: float = _AGREEMENT_BONUS

    def threshold(self, phi_type: PhiType) -> float:
        return self.thresholds.get(phi_type, self.default_threshold)

    def merge(self, spans: Iterable[Span], text: str | None = None) -> list[Span]:
        """Resolve candidates into sorted, non-overlapping spans. ``text`` lets remainders skip whitespace."""
        ordered = sorted(spans, key=lambda s: (s.start, s.end))
        result: list[Span] = []
        cluster: list[Span] = []
        cluster_end = -1
        for span in ordered:
            if cluster and span.start >= cluster_end:
                result.extend(self._resolve(cluster, text))
                cluster = []
            cluster.append(span)
            cluster_end = max(cluster_end, span.end) if len(cluster) > 1 else span.end
        if cluster:
            result.extend(self._resolve(cluster, text))
        result.sort(key=lambda s: s.start)
        return result

    def _resolve(self, cluster: list[Span], text: str | None) -> list[Span]:
        if len(cluster) == 1:
            only = cluster[0]
            return [only] if only.score >= self.threshold(only.type) else []
        merged = [s for s in self._union_same_type(cluster) if s.score >= self.threshold(s.type)]
        merged.sort(key=lambda s: (-s.score, _RANK.get(s.type, len(_RANK)), -s.length, s.start))
        chosen: list[Span] = []
        for candidate in merged:
            pieces = [candidate]
            for kept in chosen:
                pieces = [part for piece in pieces for part in _subtract(piece, kept, text)]
            chosen.extend(pieces)
        return chosen

    def _union_same_type(self, cluster: list[Span]) -> list[Span]:
        by_type: dict[PhiType, list[Span]] = {}
        for span in cluster:
            by_type.setdefault(span.type, []).append(span)
        out: list[Span] = []
        for group in by_type.values():
            group.sort(key=lambda s: (s.start, s.end))
            current = [group[0]]
            end = group[0].end
            for span in group[1:]:
                if span.start < end:
                    current.append(span)
                    end = max(end, span.end)
                else:
                    out.append(self._combine(current))
                    current, end = [span], span.end
            out.append(self._combine(current))
        return out

    def _combine(self, parts: list[Span]) -> Span:
        if len(parts) == 1:
            return parts[0]
        detectors = sorted({p.detector for p in parts})
        families = {d.split(":", 1)[0] for d in detectors}
        score = max(p.score for p in parts)
        if len(detectors) > 1:
            score = min(1.0, score + self.agreement_bonus * (2 if len(families) > 1 else 1))
        reasons: dict[str, None] = {}
        for part in parts:
            reasons.update(dict.fromkeys(part.reasons))
        return Span(
            min(p.start for p in parts),
            max(p.end for p in parts),
            parts[0].type,
            round(score, 4),
            "+".join(detectors),
            tuple(reasons),
        )


def _subtract(piece: Span, kept: Span, text: str | None) -> list[Span]:
    """The parts of ``piece`` outside ``kept`` that still hold a letter or digit."""
    if not piece.overlaps(kept):
        return [piece]
    parts: list[Span] = []
    for start, end in ((piece.start, min(piece.end, kept.start)), (max(piece.start, kept.end), piece.end)):
        if end <= start:
            continue
        if text is not None:
            while start < end and not text[start].isalnum():
                start += 1
            while end > start and not text[end - 1].isalnum():
                end -= 1
            if end <= start:
                continue
        elif end - start < 2:
            continue
        parts.append(Span(start, end, piece.type, piece.score, piece.detector, (*piece.reasons, "trimmed")))
    return parts
