"""Per-note cost of the sensitive-category classifier beside the detector's, on the same notes, one thread.

The worker's classifier scans each note for evidence first and runs its model only where the model's
score can change a decision (see :mod:`pipeline.core.sensitive_evidence.combine`); the model alone is
measured too.

The classifier is the category head beside the detector (issue 26). In the worker it reads the window
features the detector's own run left behind; here it has an encoder of its own, so its rows show what a
note would cost if the detector had not just run on it (the upper bound, a second encoder pass).
Measured on the detector benchmark's synthetic notes (about 630 characters) and on notes three times as
long (several windows).

    .venv/bin/python bench/classifier.py [--notes 200] [--quick]

Prints a table and writes bench/results/classifier.json.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from detector import synthetic_notes, throughput  # noqa: E402  (bench/detector.py)

from pipeline.core.detection import RuleDetector  # noqa: E402
from pipeline.runtime.detectors import build_detector  # noqa: E402
from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier  # noqa: E402
from pipeline.runtime.sensitive_classifier import build_classifier  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "classifier.json"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="40 notes, one pass")
    args = parser.parse_args()
    count = 40 if args.quick else args.notes
    passes = 1 if args.quick else 3
    short = synthetic_notes(count)
    long = [" ".join(short[i : i + 3]) for i in range(0, len(short) - 2, 3)]
    detector_dir = ROOT / "models" / "detector"
    classifier = build_classifier(detector_dir, provider="cpu", threads=1)  # the category head, its own encoder
    runs = {
        "rules only": RuleDetector().detect_batch,
        "detector model alone (int8)": OnnxTokenClassifier(detector_dir, provider="cpu", threads=1).detect_batch,
        "detector: rules + int8 model (worker)": build_detector(detector_dir, provider="cpu", threads=1).detect_batch,
        "sensitive category head alone (int8 trunk)": build_classifier(
            detector_dir, provider="cpu", threads=1, evidence=False
        ).classify_batch,
        "sensitive classifier (int8)": classifier.classify_batch,
    }
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for label, notes in (("short", short), ("long", long)):
        chars = round(sum(map(len, notes)) / len(notes))
        for name, run in runs.items():
            per_second = throughput(run, notes, passes=passes)
            rows.setdefault(name, {})[label] = {"ms_per_note": round(1000 / per_second, 2), "mean_chars": chars}
    for label in ("short", "long"):
        detector_ms = rows["detector: rules + int8 model (worker)"][label]["ms_per_note"]
        classifier_ms = rows["sensitive classifier (int8)"][label]["ms_per_note"]
        rows.setdefault("classifier / detector", {})[label] = {"ratio": round(classifier_ms / detector_ms, 2)}
    print(f"{count} short and {len(long)} long synthetic notes, 1 thread, best of {passes} passes")
    print(f"{'':<40} {'short ms/note':>14} {'long ms/note':>14}")
    for name, by_length in rows.items():
        cells = [by_length[k].get("ms_per_note", by_length[k].get("ratio")) for k in ("short", "long")]
        print(f"{name:<40} {cells[0]!s:>14} {cells[1]!s:>14}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {"threads": 1, "cpu_count": os.cpu_count(), "classifier": classifier.describe(), "results": rows}
    RESULTS.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
