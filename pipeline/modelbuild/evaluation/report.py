"""Human and machine outputs of an evaluation: the per-type table, the JSON summary, the missed-span file."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pipeline.modelbuild.evaluation.corpus import Document
from pipeline.modelbuild.evaluation.scoring import FAMILIES, Scores

_CONTEXT = 30


def format_table(scores: Scores) -> str:
    """Fixed-width table: per type, strict / overlap / token precision-recall-F1 and gold counts."""
    header = (
        f"{'type':<12} {'gold':>6} {'pred':>6} | {'strict P':>8} {'R':>6} {'F1':>6} | "
        f"{'overlap P':>9} {'R':>6} {'F1':>6} | {'token P':>7} {'R':>6} {'F1':>6}"
    )
    lines = [header, "-" * len(header)]
    for key in scores.types():
        s, o, t = scores.strict.get(key), scores.overlap.get(key), scores.token.get(key)
        gold = (o or s).gold if (o or s) else 0
        pred = (o or s).pred if (o or s) else 0

        def trio(c: object, width: int = 8) -> str:
            if c is None:
                return f"{'-':>{width}} {'-':>6} {'-':>6}"
            return f"{c.precision:>{width}.3f} {c.recall:>6.3f} {c.f1:>6.3f}"  # type: ignore[attr-defined]

        if key in ("ALL", "ANY", next(iter(FAMILIES))):
            lines.append("-" * len(header))
        lines.append(f"{key:<12} {gold:>6} {pred:>6} | {trio(s)} | {trio(o, 9)} | {trio(t, 7)}")
    if scores.leak_free:
        lines.append("")
        lines.append("type-blind: leak-free recall (every letter and digit of a gold span covered, any type)")
        lines.append("by gold type;")
        lines.append("span precision (a prediction touching any gold span) by predicted type")
        lines.append(f"  {'type':<12} {'gold':>6} {'leak-free R':>11} {'pred':>6} {'span P':>7}")
        for key in [*(k for k in scores.types() if k in scores.leak_free and k != "ALL"), "ALL"]:
            c = scores.leak_free.get(key)
            if c is None:
                continue
            recall = f"{c.recall:.3f}" if c.gold else "-"
            precision = f"{c.precision:.3f}" if c.pred else "-"
            lines.append(f"  {key:<12} {c.gold:>6} {recall:>11} {c.pred:>6} {precision:>7}")
    if scores.leak_free_by_label:
        lines.append("")
        lines.append("leaks by the corpus's own label (gold spans not leak-free): leaked / gold")
        for label, counts in sorted(scores.leak_free_by_label.items()):
            leaked = counts.gold - counts.tp_gold
            lines.append(f"  {label:<22} {leaked:>5} / {counts.gold:<5} (recall {counts.recall:.3f})")
    if scores.clinical_tokens:
        lines.append("")
        lines.append(
            f"clinical words destroyed: {scores.destroyed_per_10k:.1f} per 10,000 "
            f"({scores.destroyed_tokens} of {scores.clinical_tokens} word tokens outside every gold span are touched "
            "by a prediction)"
        )
    if scores.aside:
        lines.append("")
        lines.append("set aside (not PHI under Safe Harbor, not in the figures above): covered / gold")
        for label, counts in sorted(scores.aside.items()):
            lines.append(f"  {label:<22} {counts.tp_gold:>5} / {counts.gold:<5} ({counts.recall:.1%})")
    return "\n".join(lines)


def write_missed(path: Path, scores: Scores, docs: Sequence[Document]) -> int:
    """One JSON line per missed gold span with its text and some context, grouped by type.

    The file holds corpus text: use it only with synthetic or authorized data.
    """
    texts = {doc.id: doc.text for doc in docs}
    ordered = sorted(scores.missed, key=lambda m: (m.type.value, m.doc_id, m.start))
    with path.open("w", encoding="utf-8") as handle:
        for miss in ordered:
            text = texts.get(miss.doc_id, "")
            record = {
                "type": miss.type.value,
                "id": miss.doc_id,
                "start": miss.start,
                "end": miss.end,
                "text": text[miss.start : miss.end],
                "context": text[max(0, miss.start - _CONTEXT) : miss.end + _CONTEXT],
                "predicted_as": list(miss.predicted_as),
            }
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return len(ordered)
