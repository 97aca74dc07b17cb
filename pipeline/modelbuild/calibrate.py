"""Per-type score thresholds chosen on the development split, with the precision-recall curves behind them.

The detector's spans carry scores (a rule's confidence, the model's mean word probability, raised when
detectors agree). One threshold per type decides what is kept. They are chosen here, on the development
split only (the test split is never looked at), by one rule: the highest threshold whose type-blind
leak-free recall over all gold spans stays within ``RECALL_SLACK`` of what the lowest threshold
reaches. Recall comes first because a miss is a leaked identifier; precision is what the threshold buys.

The thresholds ship beside the model (``thresholds.json``) so a retrained model brings its own; the
curves go into the model card as a PNG with the chosen operating points marked.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.detection.merge import Ensemble
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.modelbuild.evaluation.corpus import Document
from pipeline.modelbuild.evaluation.scoring import coverage, leak_free

#: Thresholds tried. None above 0.7: a higher one tuned on synthetic notes would trade recall on real
#: text (where scores run lower) for precision measured on our own templates.
GRID: tuple[float, ...] = tuple(round(0.05 * i, 2) for i in range(2, 15))
FLOOR = GRID[0]
#: How much overall leak-free recall a threshold may cost (absolute).
RECALL_SLACK = 0.001
#: Types with fewer gold spans than this in the development split keep the default threshold.
MIN_GOLD = 30
#: The types whose spans come mostly from the model. The identifier types with shapes (SSN, MRN, phone,
#: licence...) come from rules whose fixed scores were set against the default thresholds; calibrating
#: them on synthetic notes raised SSN's above the bare-SSN rule's own score (0.65), which dropped every
#: SSN the model did not also see on the first test run. They keep the defaults.
CALIBRATED_TYPES: tuple[PhiType, ...] = (
    PhiType.NAME,
    PhiType.STREET,
    PhiType.CITY,
    PhiType.ZIP,
    PhiType.FACILITY,
    PhiType.LOCATION,
    PhiType.DATE,
)
THRESHOLDS_FILE = "thresholds.json"


@dataclass(frozen=True)
class CurvePoint:
    threshold: float
    precision: float
    recall: float
    predicted: int


def _measure(
    docs: Sequence[Document], spans: Sequence[Sequence[Span]], phi_type: PhiType | None, threshold: float = FLOOR
) -> tuple[CurvePoint, int, int]:
    """One pass over the corpus: ``phi_type``'s point (span precision of its predictions, leak-free recall
    of its gold spans) and the leak-free count over all gold spans (caught, total)."""
    hit = predicted = caught = total = caught_all = total_all = 0
    for doc, found in zip(docs, spans, strict=True):
        gold = [g for g in doc.spans if g.type is not None]
        mask = coverage(doc.text, found)
        for p in found:
            if p.type is phi_type:
                predicted += 1
                hit += any(p.start < g.end and g.start < p.end for g in gold)
        for g in gold:
            ok = leak_free(doc.text, g.start, g.end, mask)
            total_all += 1
            caught_all += ok
            if g.type is phi_type:
                total += 1
                caught += ok
    point = CurvePoint(threshold, hit / predicted if predicted else 1.0, caught / total if total else 1.0, predicted)
    return point, caught_all, total_all


def calibrate(
    docs: Sequence[Document],
    detect_batch: Callable[[Sequence[str], Ensemble], list[list[Span]]],
    types: Sequence[PhiType] = CALIBRATED_TYPES,
    progress: Callable[[str], None] = print,
) -> tuple[dict[PhiType, float], dict[PhiType, list[CurvePoint]]]:
    """Thresholds per type and each type's curve, one type at a time with the others at their choice."""
    texts = [d.text for d in docs]
    defaults = Ensemble()
    chosen: dict[PhiType, float] = {t: FLOOR for t in types}
    floor_spans = detect_batch(texts, Ensemble(thresholds={**defaults.thresholds, **chosen}))
    _, caught, total = _measure(docs, floor_spans, None)
    target = caught / total - RECALL_SLACK if total else 0.0
    curves: dict[PhiType, list[CurvePoint]] = {}
    for phi_type in types:
        if not any(s.type is phi_type for found in floor_spans for s in found):
            continue
        gold = sum(1 for d in docs for g in d.spans if g.type is phi_type)
        points: list[CurvePoint] = []
        best = FLOOR
        for threshold in GRID:
            trial = {**chosen, phi_type: threshold}
            spans = _filter(floor_spans, trial)
            point, got, _ = _measure(docs, spans, phi_type, threshold)
            points.append(point)
            if total and got / total >= target:
                best = threshold
        if gold < MIN_GOLD:
            best = defaults.threshold(phi_type)
        chosen[phi_type] = best
        curves[phi_type] = points
        progress(f"calibrate: {phi_type.value} threshold {best} ({gold} gold spans)")
    return chosen, curves


def calibrate_model(
    model_dir: Path, docs: Sequence[Document], threads: int = 2, progress: Callable[[str], None] = print
) -> tuple[dict[PhiType, float], dict[PhiType, list[CurvePoint]]]:
    """:func:`calibrate` for the ONNX model in ``model_dir`` with the rules beside it, as the worker runs
    them: the model runs once over ``docs``, each threshold trial only re-merges its spans."""
    from pipeline.core.detection import EnsembleDetector, RuleDetector
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier

    model = OnnxTokenClassifier(model_dir, provider="cpu", threads=threads)
    texts = [d.text for d in docs]
    model_spans = [spans for i in range(0, len(texts), 32) for spans in model.detect_batch(texts[i : i + 32])]

    def detect(batch: Sequence[str], ensemble: Ensemble) -> list[list[Span]]:
        detector = EnsembleDetector(RuleDetector(ensemble=ensemble), [model], ensemble=ensemble)
        return detector.merge_batch(batch, [model_spans])

    return calibrate(docs, detect, progress=progress)


def _filter(spans: Sequence[Sequence[Span]], thresholds: Mapping[PhiType, float]) -> list[list[Span]]:
    """Spans found at the floor, kept where their score reaches their type's threshold (types not being
    calibrated were already held to their defaults when the spans were found)."""
    return [[s for s in found if s.score >= thresholds.get(s.type, 0.0)] for found in spans]


def write_thresholds(model_dir: Path, thresholds: Mapping[PhiType, float], note: str) -> Path:
    path = model_dir / THRESHOLDS_FILE
    payload = {"thresholds": {t.value: v for t, v in sorted(thresholds.items(), key=lambda kv: kv[0].value)}}
    payload["how"] = note
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def plot_curves(curves: Mapping[PhiType, Sequence[CurvePoint]], chosen: Mapping[PhiType, float], path: Path) -> Path:
    """Precision against leak-free recall per type as the threshold rises; chosen points marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shown = [t for t, pts in curves.items() if sum(p.predicted for p in pts) > 0]
    columns = 4
    rows = (len(shown) + columns - 1) // columns
    fig, axes = plt.subplots(rows, columns, figsize=(4 * columns, 3.2 * rows), squeeze=False)
    for ax, phi_type in zip(axes.flat, shown, strict=False):
        pts = curves[phi_type]
        ax.plot([p.recall for p in pts], [p.precision for p in pts], marker=".", linewidth=1)
        pick = min(pts, key=lambda p: abs(p.threshold - chosen[phi_type]))
        ax.plot([pick.recall], [pick.precision], marker="o", color="red", markersize=8)
        ax.annotate(f"t={pick.threshold}", (pick.recall, pick.precision), textcoords="offset points", xytext=(5, -12))
        ax.set_title(phi_type.value, fontsize=10)
        ax.set_xlabel("leak-free recall", fontsize=8)
        ax.set_ylabel("span precision", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(shown) :]:
        ax.axis("off")
    fig.suptitle("Development split: precision vs recall as each type's threshold rises (red: chosen)")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path
