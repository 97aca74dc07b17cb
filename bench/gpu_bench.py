"""Detector throughput per execution provider and batch size, CUDA beside CPU in one run.

Runs the ONNX detector (models/detector, else the test's tiny model) over the same synthetic notes on
every provider this onnxruntime offers (CUDA/TensorRT where onnxruntime-gpu sees a GPU, CPU always), at
batch sizes 1 to 256, and reports notes per second and the provider actually used. Needs only
onnxruntime, tokenizers and numpy (plus this repository on PYTHONPATH), so it runs on a GPU machine
without the rest of the package's dependencies. Prints a table last and writes bench/results/gpu.json.

    PYTHONPATH=. python3 bench/gpu_bench.py [--notes 512] [--max-batch 256] [--seconds-per-point 4]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent

SENTENCES = (
    "Pt seen by Dr. Lee on 03/14/2026, c/o chest pain radiating to L arm.",
    "HUSBAND JIM AT BEDSIDE, CALL 617-555-0199 W/ UPDATES.",
    "MRN 7767936, admitted to 4 West from the ED, troponin 0.04 -> 0.31.",
    "Started metoprolol 25 mg PO BID and heparin gtt per protocol.",
    "Follow up with Dr. Patel at Mercy Clinic, 12 Oak St, Springfield.",
    "Denies SOB, afebrile overnight, tolerating diet, ambulating with walker.",
)


def notes(count: int, sentences_per_note: int = 12) -> list[str]:
    return [" ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(sentences_per_note)) for i in range(count)]


def model_dir() -> tuple[Path, str]:
    shipped = ROOT / "models" / "detector"
    if (shipped / "tokenizer.json").exists():
        return shipped, "models/detector"
    from pipeline.devtools.tiny_model import build_tiny_model

    folder = Path(tempfile.mkdtemp(prefix="phi-tiny-"))
    build_tiny_model(folder)
    return folder, "tiny test model (models/detector absent)"


def measure(classifier: object, texts: list[str], batch: int, seconds: float) -> float:
    classifier.batch_size = batch  # type: ignore[attr-defined]
    classifier.detect_batch(texts[:batch])  # warm-up: sessions allocate on first use
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for i in range(0, len(texts), batch):
            classifier.detect_batch(texts[i : i + batch])  # type: ignore[attr-defined]
            done += len(texts[i : i + batch])
            if time.perf_counter() - started >= seconds:
                break
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=512)
    parser.add_argument("--max-batch", type=int, default=256)
    parser.add_argument("--seconds-per-point", type=float, default=4.0)
    args = parser.parse_args()
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier

    folder, which = model_dir()
    texts = notes(args.notes)
    available = ort.get_available_providers()
    wanted = [
        ("cuda", "CUDAExecutionProvider"),
        ("tensorrt", "TensorrtExecutionProvider"),
        ("cpu", "CPUExecutionProvider"),
    ]
    runs = [name for name, provider in wanted if provider in available]
    batches = [b for b in (1, 2, 4, 8, 16, 32, 64, 128, 256) if b <= args.max_batch]
    print(f"onnxruntime {ort.__version__}; providers available: {', '.join(available)}; model: {which}", flush=True)
    rows = []
    for requested in runs:
        classifier = OnnxTokenClassifier(folder, provider=requested)
        for batch in batches:
            rate = measure(classifier, texts, batch, args.seconds_per_point)
            rows.append({"requested": requested, "provider": classifier.provider, "batch": batch, "notes_per_s": rate})
            print(f"  {requested:<9} {classifier.provider:<28} batch {batch:>3}: {rate:9.1f} notes/s", flush=True)
    cpu_best = max((r["notes_per_s"] for r in rows if r["requested"] == "cpu"), default=0.0)
    print(f"\n{'requested':<10} {'provider used':<28} {'batch':>5} {'notes/s':>10} {'x best CPU':>10}")
    for r in rows:
        ratio = r["notes_per_s"] / cpu_best if cpu_best else float("nan")
        print(f"{r['requested']:<10} {r['provider']:<28} {r['batch']:>5} {r['notes_per_s']:>10.1f} {ratio:>10.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(
        json.dumps({"model": which, "providers": available, "rows": rows, "machine": platform.platform()}, indent=2)
    )


if __name__ == "__main__":
    main()
