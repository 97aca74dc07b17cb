"""False alarms per 10,000 tokens on text that holds no PHI at all.

A held-out split scores a detector on the notes we wrote; this scores it on medical language we did not
write (glossary lines and drug names shipped by maintained packages), where every span is a false
alarm. Tokens are whitespace-separated words, so the rate compares across detectors and corpora.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from pipeline.core.detection.base import TextDetector

_BATCH = 64


def false_alarm_rates(detector: TextDetector, texts: Sequence[str]) -> dict[str, object]:
    """Spans found, tokens read, and spans per 10,000 tokens overall and by type."""
    tokens = sum(len(t.split()) for t in texts)
    by_type: Counter[str] = Counter()
    for i in range(0, len(texts), _BATCH):
        for spans in detector.detect_batch(texts[i : i + _BATCH]):
            by_type.update(span.type.value for span in spans)
    total = sum(by_type.values())
    per_10k = 10_000 / tokens if tokens else 0.0
    return {
        "texts": len(texts),
        "tokens": tokens,
        "spans": total,
        "per_10k_tokens": round(total * per_10k, 2),
        "by_type_per_10k": {k: round(v * per_10k, 2) for k, v in by_type.most_common()},
    }


def format_rates(results: Mapping[str, Mapping[str, object]]) -> str:
    """One row per detector: tokens, spans, spans per 10k tokens, and the three types most to blame."""
    lines = [f"{'detector':<44} {'tokens':>8} {'spans':>7} {'per 10k':>8}  top types per 10k"]
    for name, r in results.items():
        top = ", ".join(f"{k} {v}" for k, v in list(r["by_type_per_10k"].items())[:3])  # type: ignore[union-attr]
        lines.append(f"{name:<44} {r['tokens']:>8} {r['spans']:>7} {r['per_10k_tokens']:>8}  {top}")
    return "\n".join(lines)
