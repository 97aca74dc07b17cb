"""Precision, recall and F1 per PHI type and overall, at entity level (strict, overlap) and token level.

- strict: a prediction counts only with the gold span's exact offsets and type;
- overlap: a prediction of the right type touching a gold span counts (and the gold span is found);
- token: every word token is labelled by the span covering it, then compared token by token;
- ANY: the de-identification view, type ignored: was the PHI covered at all (overlap and token);
- families (overlap only): LOCATIONS and IDENTIFIERS, where any type of the family counts for any other
  (a neighbourhood called a city, a pharmacy card number called an account are still found as such).

Gold spans set aside (type None, e.g. ages under 90) are not scored as PHI; predictions overlapping them
are left out of precision, and their coverage is reported separately.

Two figures say what de-identification costs and leaks in the corpus's own terms:

- leak-free recall by the corpus's own label (clinicians and relatives apart, though both are NAME);
- clinical words destroyed per 10,000: of the word tokens (runs of letters, digits and underscores)
  outside every gold span (PHI or set aside), the share that any prediction touches, so redaction would
  remove them in whole or in part, times 10,000. It counts what a reader of the de-identified note loses
  that Safe Harbor did not ask for.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.modelbuild.evaluation.corpus import Document, GoldSpan

ANY = "ANY"
_TOKEN = re.compile(r"\w+")
_ADDRESS_TYPES = frozenset({PhiType.STREET, PhiType.CITY, PhiType.ZIP})
_ADDRESS_GAP = re.compile(r"^[\s,]{0,4}$")

#: Type families scored as one, beside the per-type rows: Safe Harbor's geographic subdivisions and
#: facilities, and its numbers and codes. Confusion inside a family still removes the value.
FAMILIES: dict[str, frozenset[PhiType]] = {
    "LOCATIONS": frozenset({PhiType.STREET, PhiType.CITY, PhiType.ZIP, PhiType.FACILITY, PhiType.LOCATION}),
    "IDENTIFIERS": frozenset(
        {
            PhiType.SSN, PhiType.MRN, PhiType.HEALTH_PLAN, PhiType.ACCOUNT, PhiType.LICENSE, PhiType.VEHICLE,
            PhiType.DEVICE, PhiType.BIOMETRIC, PhiType.ID,
        }
    ),
}  # fmt: skip


@dataclass
class Counts:
    """True positives and the two error counts; precision and recall are computed from them."""

    tp_pred: int = 0
    pred: int = 0
    tp_gold: int = 0
    gold: int = 0

    @property
    def precision(self) -> float:
        return self.tp_pred / self.pred if self.pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp_gold / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def as_dict(self) -> dict[str, float | int]:
        return {
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            "predicted": self.pred,
            "gold": self.gold,
        }


@dataclass(frozen=True, slots=True)
class Missed:
    """A gold span no prediction of its type touched; ``predicted_as`` lists other types found there."""

    doc_id: str
    type: PhiType
    start: int
    end: int
    predicted_as: tuple[str, ...]


@dataclass
class Scores:
    """All figures of one evaluation run."""

    strict: dict[str, Counts] = field(default_factory=dict)
    overlap: dict[str, Counts] = field(default_factory=dict)
    token: dict[str, Counts] = field(default_factory=dict)
    aside: dict[str, Counts] = field(default_factory=dict)
    #: Type-blind, as a leak is judged: recall counts a gold span caught only when every letter and
    #: digit of it is covered by some prediction (any type), keyed by gold type; precision counts a
    #: predicted span right when it touches any gold span, keyed by predicted type. 'ALL' sums each.
    leak_free: dict[str, Counts] = field(default_factory=dict)
    missed: list[Missed] = field(default_factory=list)
    #: Leak-free recall keyed by the corpus's own label (``GoldSpan.label``); only ``gold``/``tp_gold`` are set.
    leak_free_by_label: dict[str, Counts] = field(default_factory=dict)
    #: Word tokens outside every gold span, and how many of them a prediction touches (destroyed).
    clinical_tokens: int = 0
    destroyed_tokens: int = 0
    documents: int = 0

    @property
    def destroyed_per_10k(self) -> float:
        """Clinical words destroyed per 10,000 word tokens outside gold spans (see the module docstring)."""
        return 10_000 * self.destroyed_tokens / self.clinical_tokens if self.clinical_tokens else 0.0

    def _get(self, table: dict[str, Counts], key: str) -> Counts:
        if key not in table:
            table[key] = Counts()
        return table[key]

    def types(self) -> list[str]:
        """Type rows present in any table, in vocabulary order, then the overall rows."""
        present = set(self.strict) | set(self.overlap) | set(self.token)
        ordered = [t.value for t in PhiType if t.value in present]
        return ordered + [k for k in (*FAMILIES, "ALL", ANY) if k in present]

    def as_dict(self) -> dict[str, object]:
        return {
            "documents": self.documents,
            "per_type": {
                key: {
                    "strict": self.strict.get(key, Counts()).as_dict(),
                    "overlap": self.overlap.get(key, Counts()).as_dict(),
                    "token": self.token.get(key, Counts()).as_dict(),
                }
                for key in self.types()
            },
            "leak_free": {key: c.as_dict() for key, c in sorted(self.leak_free.items())},
            "aside_coverage": {
                label: {"gold": c.gold, "covered": c.tp_gold, "coverage": round(c.recall, 4)}
                for label, c in sorted(self.aside.items())
            },
            "leak_free_by_label": {
                label: {"gold": c.gold, "caught": c.tp_gold, "leaked": c.gold - c.tp_gold, "recall": round(c.recall, 4)}
                for label, c in sorted(self.leak_free_by_label.items())
            },
            "clinical_words": {
                "tokens": self.clinical_tokens,
                "destroyed": self.destroyed_tokens,
                "per_10k": round(self.destroyed_per_10k, 2),
            },
            "missed": len(self.missed),
        }


def merge_address_parts(spans: Sequence[Span], text: str) -> list[Span]:
    """Join a STREET span with the CITY/ZIP spans right after it, for corpora that label whole addresses."""
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.type is PhiType.STREET
            and span.type in _ADDRESS_TYPES
            and span.start >= prev.end
            and _ADDRESS_GAP.match(text[prev.end : span.start])
        ):
            out[-1] = Span(prev.start, span.end, PhiType.STREET, prev.score, prev.detector, prev.reasons)
        else:
            out.append(span)
    return out


def _as_labelled_address(preds: list[Span], gold: Sequence[GoldSpan]) -> list[Span]:
    """A CITY or ZIP prediction inside a gold whole-address STREET span (and on no gold CITY or ZIP) is
    part of that address: such corpora label the town and postcode in a postal address as the address."""
    streets = [g for g in gold if g.type is PhiType.STREET]
    parts = [g for g in gold if g.type in (PhiType.CITY, PhiType.ZIP)]
    out = []
    for p in preds:
        if (
            p.type in _ADDRESS_TYPES
            and p.type is not PhiType.STREET
            and any(g.start <= p.start and p.end <= g.end for g in streets)
            and not any(g.start < p.end and p.start < g.end for g in parts)
        ):
            p = replace(p, type=PhiType.STREET)
        out.append(p)
    return out


def score_corpus(docs: Sequence[Document], predictions: Sequence[Sequence[Span]]) -> Scores:
    """Score predictions (one list per document, same order) against the documents' gold spans."""
    if len(docs) != len(predictions):
        raise ValueError(f"{len(docs)} documents but {len(predictions)} prediction lists")
    scores = Scores(documents=len(docs))
    for doc, predicted in zip(docs, predictions, strict=True):
        preds = list(predicted)
        if doc.aliases:
            alias = dict(doc.aliases)
            preds = [replace(p, type=alias.get(p.type, p.type)) for p in preds]
        if doc.merge_address:
            preds = merge_address_parts(preds, doc.text)
            preds = _as_labelled_address(preds, doc.spans)
        _score_document(scores, doc, preds)
    return scores


def _score_document(scores: Scores, doc: Document, preds: list[Span]) -> None:
    gold = [g for g in doc.spans if g.type is not None]
    aside = [g for g in doc.spans if g.type is None]
    for g in aside:
        counts = scores._get(scores.aside, g.label)
        counts.gold += 1
        counts.tp_gold += any(p.start < g.end and g.start < p.end for p in preds)
    scored = [p for p in preds if not any(p.start < a.end and a.start < p.end for a in aside)]
    _entity_level(scores, doc, gold, scored)
    _leak_free_level(scores, doc.text, gold, scored)
    _family_level(scores, gold, scored)
    _token_level(scores, doc, gold, scored, aside)
    _clinical_words(scores, doc, preds)


def _entity_level(scores: Scores, doc: Document, gold: list[GoldSpan], preds: list[Span]) -> None:
    exact = {(g.start, g.end, g.type) for g in gold}
    exact_pred = {(p.start, p.end, p.type) for p in preds}
    for p in preds:
        key = p.type.value
        for table in (scores.strict, scores.overlap):
            scores._get(table, key).pred += 1
            scores._get(table, "ALL").pred += 1
        scores._get(scores.overlap, ANY).pred += 1
        if (p.start, p.end, p.type) in exact:
            scores._get(scores.strict, key).tp_pred += 1
            scores._get(scores.strict, "ALL").tp_pred += 1
        touching = [g for g in gold if g.start < p.end and p.start < g.end]
        if any(g.type is p.type for g in touching):
            scores._get(scores.overlap, key).tp_pred += 1
            scores._get(scores.overlap, "ALL").tp_pred += 1
        if touching:
            scores._get(scores.overlap, ANY).tp_pred += 1
    for g in gold:
        assert g.type is not None
        key = g.type.value
        for table in (scores.strict, scores.overlap):
            scores._get(table, key).gold += 1
            scores._get(table, "ALL").gold += 1
        scores._get(scores.overlap, ANY).gold += 1
        if (g.start, g.end, g.type) in exact_pred:
            scores._get(scores.strict, key).tp_gold += 1
            scores._get(scores.strict, "ALL").tp_gold += 1
        touching = [p for p in preds if p.start < g.end and g.start < p.end]
        if any(p.type is g.type for p in touching):
            scores._get(scores.overlap, key).tp_gold += 1
            scores._get(scores.overlap, "ALL").tp_gold += 1
        else:
            scores.missed.append(
                Missed(doc.id, g.type, g.start, g.end, tuple(sorted({p.type.value for p in touching})))
            )
        if touching:
            scores._get(scores.overlap, ANY).tp_gold += 1


def coverage(text: str, preds: Sequence[Span | GoldSpan]) -> bytearray:
    """One byte per character of ``text``: non-zero where some span (predicted or gold) covers it."""
    covered = bytearray(len(text) + 1)
    for p in preds:
        covered[p.start : p.end] = b"\x01" * (p.end - p.start)
    return covered


def leak_free(text: str, start: int, end: int, covered: bytearray) -> bool:
    """Every letter and digit of ``text[start:end]`` is covered: the value does not leak, even in part.

    Spaces and punctuation carry no identity: a gold span that takes in a comma or the brackets around a
    telephone number ('(201-223-4567)') leaks nothing when only its brackets are left."""
    return all(covered[i] or not text[i].isalnum() for i in range(start, min(end, len(text))))


def _leak_free_level(scores: Scores, text: str, gold: list[GoldSpan], preds: list[Span]) -> None:
    covered = coverage(text, preds)
    for g in gold:
        caught = leak_free(text, g.start, g.end, covered)
        for key in (g.type.value, "ALL"):  # type: ignore[union-attr]
            counts = scores._get(scores.leak_free, key)
            counts.gold += 1
            counts.tp_gold += caught
        by_label = scores._get(scores.leak_free_by_label, g.label)
        by_label.gold += 1
        by_label.tp_gold += caught
    for p in preds:
        hit = any(p.start < g.end and g.start < p.end for g in gold)
        for key in (p.type.value, "ALL"):
            counts = scores._get(scores.leak_free, key)
            counts.pred += 1
            counts.tp_pred += hit


def _clinical_words(scores: Scores, doc: Document, preds: list[Span]) -> None:
    """Count word tokens outside every gold span, and those a prediction touches (all predictions, also
    the ones on set-aside spans: a token outside gold is destroyed whoever removed it)."""
    inside_gold = coverage(doc.text, doc.spans)
    covered = coverage(doc.text, preds)
    for match in _TOKEN.finditer(doc.text):
        start, end = match.span()
        if any(inside_gold[start:end]):
            continue
        scores.clinical_tokens += 1
        scores.destroyed_tokens += any(covered[start:end])


def _family_level(scores: Scores, gold: list[GoldSpan], preds: list[Span]) -> None:
    for family, members in FAMILIES.items():
        family_gold = [g for g in gold if g.type in members]
        family_preds = [p for p in preds if p.type in members]
        if not family_gold and not family_preds:
            continue
        counts = scores._get(scores.overlap, family)
        counts.gold += len(family_gold)
        counts.pred += len(family_preds)
        counts.tp_gold += sum(any(p.start < g.end and g.start < p.end for p in family_preds) for g in family_gold)
        counts.tp_pred += sum(any(g.start < p.end and p.start < g.end for g in family_gold) for p in family_preds)


def _label_tokens(tokens: list[tuple[int, int]], spans: Sequence[Span | GoldSpan]) -> list[str | None]:
    labels: list[str | None] = [None] * len(tokens)
    ordered = sorted(spans, key=lambda s: s.start)
    index = 0
    for position, (start, end) in enumerate(tokens):
        while index < len(ordered) and ordered[index].end <= start:
            index += 1
        for span in ordered[index:]:
            if span.start >= end:
                break
            if span.type is not None and span.start < end and start < span.end:
                labels[position] = span.type.value
                break
    return labels


def _token_level(scores: Scores, doc: Document, gold: list[GoldSpan], preds: list[Span], aside: list[GoldSpan]) -> None:
    tokens = [m.span() for m in _TOKEN.finditer(doc.text)]
    if aside:
        tokens = [t for t in tokens if not any(a.start < t[1] and t[0] < a.end for a in aside)]
    gold_labels = _label_tokens(tokens, gold)
    pred_labels = _label_tokens(tokens, preds)
    tally: Counter[tuple[str, str]] = Counter()
    for g, p in zip(gold_labels, pred_labels, strict=True):
        if p is not None:
            tally[(p, "pred")] += 1
            tally[("ALL", "pred")] += 1
            tally[(ANY, "pred")] += 1
        if g is not None:
            tally[(g, "gold")] += 1
            tally[("ALL", "gold")] += 1
            tally[(ANY, "gold")] += 1
        if g is not None and p is not None:
            tally[(ANY, "hit")] += 1
            if g == p:
                tally[(g, "hit")] += 1
                tally[("ALL", "hit")] += 1
    for (key, kind), count in tally.items():
        counts = scores._get(scores.token, key)
        if kind == "pred":
            counts.pred += count
        elif kind == "gold":
            counts.gold += count
        else:
            counts.tp_pred += count
            counts.tp_gold += count
