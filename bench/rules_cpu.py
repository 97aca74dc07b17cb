"""The rules' CPU per real note, this checkout beside another, in alternating fresh processes.

Each process imports a checkout's rules, loads the word lists, then times ``RuleDetector.candidates`` (the
recognizers and vetting, what the rules + model detector runs per note) and ``RuleDetector.detect`` (the
rules alone, merged) over the first ``--notes`` notes of the development half (../shared/data) with
``time.process_time``; the median of ``--rounds`` is printed, with the start-up (imports, word lists).

    .venv/bin/python bench/rules_cpu.py --baseline /tmp/base [--notes 600] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTES = REPO.parent / "shared" / "data" / "physionet_deid_dev" / "notes.jsonl"
_CHILD = """
import json, sys, time
started = time.process_time()
from pipeline.core.detection import RuleDetector
from pipeline.core.detection.lexicons import lexicons
rules = RuleDetector()
lexicons()
texts = [json.loads(line)["text"] for line in open(sys.argv[1])][: int(sys.argv[2])]
loaded = time.process_time()
for text in texts:
    rules.candidates(text)
found = time.process_time()
for text in texts:
    rules.detect(text)
done = time.process_time()
per_note = 1000 / len(texts)
print(json.dumps({"start_up_s": loaded - started, "candidates_ms_per_note": (found - loaded) * per_note,
                  "detect_ms_per_note": (done - found) * per_note}))
"""


def measure(checkout: Path, notes: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    # cwd matters: 'python -c' puts the working folder first on the import path, ahead of PYTHONPATH.
    argv = [sys.executable, "-c", _CHILD, str(NOTES), str(notes)]
    done = subprocess.run(argv, check=True, env=env, cwd=checkout, capture_output=True, text=True)
    return json.loads(done.stdout)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="another checkout")
    parser.add_argument("--notes", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if not NOTES.exists():
        parser.error(f"{NOTES} is missing (the development half of the real notes)")
    runs: dict[Path, list[dict[str, float]]] = {args.baseline: [], REPO: []}
    for _ in range(args.rounds):
        for checkout, rows in runs.items():
            rows.append(measure(checkout, args.notes))
    print(f"{args.notes} development notes, median of {args.rounds} alternating rounds, CPU (process_time)")
    for checkout, rows in runs.items():
        medians = {key: round(statistics.median(row[key] for row in rows), 3) for key in rows[0]}
        print(f"{checkout}: {medians}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
