"""Rules plus models: each model's spans vetted, re-typed where a shape rule fires, then merged.

Models run once per batch (so batching reaches the runtime); rules run per text. The merge itself is
:mod:`pipeline.core.detection.merge`, shared with the rules-only detector.
"""

from __future__ import annotations

import bisect
import re
import time
from collections.abc import Sequence

from pipeline.core.detection.base import ModelDetector
from pipeline.core.detection.merge import Ensemble
from pipeline.core.detection.propagate import complete, propagate
from pipeline.core.detection.rule_detector import RuleDetector
from pipeline.core.detection.vetting import vet
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span


class EnsembleDetector:
    """Rules plus any number of other detectors (models), merged by one :class:`Ensemble`.

    The rules' raw candidates (before thresholds) go into the merge, so a weak rule match that a model
    agrees with can still pass. Models run once per batch, so batching across texts reaches the runtime.
    """

    def __init__(
        self, rules: RuleDetector, models: Sequence[ModelDetector] = (), ensemble: Ensemble | None = None
    ) -> None:
        self.rules = rules
        self.models = tuple(models)
        self.name = "+".join(["rules", *(m.name for m in self.models)])
        self.ensemble = ensemble or rules.ensemble
        #: Seconds each model spent on the last batch, by model name (for the inference-latency metric).
        self.last_model_seconds: dict[str, float] = {}

    def detect(self, text: str) -> list[Span]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        model_spans = []
        for model in self.models:
            started = time.perf_counter()
            model_spans.append(model.detect_batch(texts))
            self.last_model_seconds[model.name] = time.perf_counter() - started
        return self.merge_batch(texts, model_spans)

    def merge_batch(self, texts: Sequence[str], model_spans: Sequence[Sequence[list[Span]]]) -> list[list[Span]]:
        """Rules over ``texts`` merged with spans the models already found (one list per model, one entry
        per text): threshold calibration re-merges the same model output many times without rerunning it."""
        results: list[list[Span]] = []
        for index, text in enumerate(texts):
            candidates = self.rules.candidates(text)
            confident = [c for c in candidates if c.score >= self.ensemble.threshold(c.type)]
            for spans in model_spans:
                vetted = [kept for kept in (vet(span, text) for span in spans[index]) if kept is not None]
                candidates.extend(_defer_to_shapes(vetted, confident))
            merged = self.ensemble.merge(candidates, text)
            rescued = rescue_neighbours(merged, [s for spans in model_spans for s in spans[index]], text)
            results.append(complete(propagate(rescued, text), text))
        return results


#: Families within which a model's pieces of one identifier are joined ('OLGA' + 'ESPOSITO', 'CHAVEZ' +
#: 'NURSING SERVICES'); a piece below its threshold or vetted out alone is kept when it touches a kept span
#: of its family, because leaving part of a name or an address in clear is a leak.
_FAMILIES: tuple[frozenset[PhiType], ...] = (
    frozenset({PhiType.NAME}),
    frozenset({PhiType.STREET, PhiType.CITY, PhiType.ZIP, PhiType.FACILITY, PhiType.LOCATION}),
    frozenset({PhiType.DATE}),
)
_RESCUE_MIN_SCORE = 0.25
_GAP = re.compile(r"[\s.,'\u2019&/-]{0,3}")


def _family(phi_type: PhiType) -> frozenset[PhiType] | None:
    return next((f for f in _FAMILIES if phi_type in f), None)


def rescue_neighbours(kept: list[Span], model_spans: Sequence[Span], text: str) -> list[Span]:
    """``kept`` plus the model pieces that continue one of its spans (same family, at most a few spaces or
    punctuation apart), repeated until nothing more joins; each rescued piece takes its neighbour's type.

    Spans are found through a position index (:class:`_SpanIndex`), so a text with 10,000 names costs
    about 10,000 lookups, not 10,000 squared comparisons; the first neighbour in ``kept`` order wins."""
    spans = list(kept)
    index = _SpanIndex(spans)
    pending = [m for m in model_spans if m.score >= _RESCUE_MIN_SCORE and _family(m.type) is not None]
    changed = True
    while changed and pending:
        changed = False
        for piece in list(pending):
            if index.any_overlap(piece):
                pending.remove(piece)
                continue
            family = _family(piece.type)
            for neighbour in index.near(piece, _MAX_GAP):
                if neighbour.type not in (family or ()):
                    continue
                left, right = (piece, neighbour) if piece.end <= neighbour.start else (neighbour, piece)
                if _GAP.fullmatch(text, left.end, right.start):
                    joined = Span(
                        piece.start, piece.end, neighbour.type, piece.score, piece.detector, ("joined-neighbour",)
                    )
                    spans.append(joined)
                    index.add(joined)
                    pending.remove(piece)
                    changed = True
                    break
    spans.sort(key=lambda s: s.start)
    return spans


_MAX_GAP = 3  # the most characters _GAP lets between two pieces


class _SpanIndex:
    """Spans by start offset, with their insertion order: overlap and neighbour queries in about
    ``log n`` each (a span is at most as long as the longest one added, which bounds the search)."""

    def __init__(self, spans: Sequence[Span] = ()) -> None:
        # One sort, as adding each in turn would order them: by start, then insertion order.
        self._entries: list[tuple[int, int, Span]] = sorted(
            ((span.start, count, span) for count, span in enumerate(spans)), key=lambda e: (e[0], e[1])
        )
        self._longest = max((span.end - span.start for span in spans), default=0)
        self._count = len(self._entries)

    def add(self, span: Span) -> None:
        bisect.insort(self._entries, (span.start, self._count, span), key=lambda e: (e[0], e[1]))
        self._count += 1
        self._longest = max(self._longest, span.end - span.start)

    def _window(self, low: int, high: int) -> list[tuple[int, int, Span]]:
        """Entries starting in ``[low, high)``."""
        first = bisect.bisect_left(self._entries, low, key=lambda e: e[0])
        last = bisect.bisect_left(self._entries, high, key=lambda e: e[0])
        return self._entries[first:last]

    def overlapping(self, span: Span) -> list[Span]:
        """The spans overlapping ``span``, in insertion order."""
        found = [e for e in self._window(span.start - self._longest + 1, span.end) if e[2].overlaps(span)]
        return [e[2] for e in sorted(found, key=lambda e: e[1])]

    def any_overlap(self, span: Span) -> bool:
        return any(e[2].overlaps(span) for e in self._window(span.start - self._longest + 1, span.end))

    def near(self, span: Span, gap: int) -> list[Span]:
        """Spans ending at most ``gap`` characters before ``span`` or starting at most ``gap`` after it,
        in insertion order (overlapping ones included: callers skip those first)."""
        window = self._window(span.start - gap - self._longest, span.end + gap + 1)
        found = [e for e in window if e[2].end >= span.start - gap and e[2].start <= span.end + gap]
        return [e[2] for e in sorted(found, key=lambda e: e[1])]


#: Types whose rules validate a shape (checksums, ranges, context): where such a rule fires, a model
#: span over the same characters takes the rule's type (a model trained on few SSNs calls them FAX).
SHAPE_TYPES: frozenset[PhiType] = frozenset(
    {
        PhiType.SSN,
        PhiType.IP,
        PhiType.EMAIL,
        PhiType.URL,
        PhiType.PHONE,
        PhiType.FAX,
        PhiType.ACCOUNT,
        PhiType.LICENSE,
        PhiType.VEHICLE,
        PhiType.DEVICE,
        PhiType.BIOMETRIC,
        PhiType.MRN,
        PhiType.HEALTH_PLAN,
        PhiType.DATE,
    }
)


def _defer_to_shapes(model_spans: Sequence[Span], confident_rules: Sequence[Span]) -> list[Span]:
    """Model spans, re-typed where a shape rule fires over them, unless a rule as sure backs the model's type."""
    out = []
    index = _SpanIndex(confident_rules)
    for span in model_spans:
        touching = index.overlapping(span)
        shapes = [r for r in touching if _is_shape(r) and r.type is not span.type]
        backing = max((r.score for r in touching if r.type is span.type), default=0.0)
        rule = max(shapes, key=lambda r: r.score, default=None)
        if rule is not None and backing >= rule.score:
            rule = None
        if rule is not None:
            span = Span(span.start, span.end, rule.type, span.score, span.detector, (*span.reasons, "type-from-rule"))
        out.append(span)
    return out


#: Recognizers of the catch-all ID type whose cue names what the value is ('passport', 'study id',
#: 'username'): as specific as a shape. The bare 'ID' cue and digit-run guesses are not.
LABELLED_ID_RECOGNIZERS: frozenset[str] = frozenset({"rules:personal_id", "rules:user_name", "rules:login_name"})


def _is_shape(rule: Span) -> bool:
    return rule.type in SHAPE_TYPES or rule.detector in LABELLED_ID_RECOGNIZERS
