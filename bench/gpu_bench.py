"""Detector (and summarizer) throughput per execution provider, model format and batch size, in one run.

Runs the shipped int8 detector (models/detector) and, when given, its fp16 GPU export
(``phi-pipeline model gpu-export``) over the same synthetic notes on every provider this onnxruntime
offers: CUDA (and TensorRT) where onnxruntime-gpu sees a GPU, the CPU always, with batches of 1 to 512
notes on the GPU. The CPU figures come from the same run on the same machine. The summarizer's tokens per
second are measured beside them when a summarizer build is given. Needs only onnxruntime, tokenizers and
numpy (plus this repository on PYTHONPATH), so it runs on a GPU machine without the rest of the package's
dependencies. Prints a table last and writes bench/results/gpu.json.

    PYTHONPATH=. python3 bench/gpu_bench.py [--fp16 DIR] [--summarizer DIR] [--max-batch 512]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
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
GPU_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


def notes(count: int) -> list[str]:
    """Notes of 4 to 20 sentences (about 250 to 1,250 characters), sorted by length so that each batch
    holds notes of one size (the bucketing the worker does not need on the CPU, where windows run alone)."""
    texts = [" ".join(SENTENCES[(i + j) % len(SENTENCES)] for j in range(4 + (i * 7) % 17)) for i in range(count)]
    return sorted(texts, key=len)


def preload_gpu_libraries() -> str:
    """Make the CUDA and cuDNN libraries of the Python environment visible to onnxruntime-gpu."""
    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()
            return "onnxruntime.preload_dlls()"
        except Exception as exc:
            reason = f"preload_dlls failed ({type(exc).__name__})"
    else:
        reason = "no preload_dlls"
    try:
        import torch  # noqa: F401 - loads libcudart, cuBLAS and cuDNN into the process

        return f"{reason}; libraries loaded through torch"
    except ImportError:
        return f"{reason}; no torch either"


def detector_dir() -> tuple[Path, str]:
    shipped = ROOT / "models" / "detector"
    if (shipped / "tokenizer.json").exists():
        return shipped, "models/detector (int8)"
    from pipeline.devtools.tiny_model import build_tiny_model

    folder = Path(tempfile.mkdtemp(prefix="phi-tiny-"))
    build_tiny_model(folder)
    return folder, "tiny test model (models/detector absent)"


def measure(classifier: object, texts: list[str], batch: int, seconds: float) -> tuple[float, float]:
    """Notes per second at ``batch`` notes per call, and the share of that time spent inside the model's run
    (on a GPU: the device's work and the copies, which the run waits for); the rest is the Python thread's
    tokenizing, windowing and decoding."""
    classifier.batch_size = max(1, batch * 2)  # type: ignore[attr-defined]  # windows per run: a note is 1-3
    classifier.detect_batch(texts[:batch])  # type: ignore[attr-defined]  # warm-up: first-run allocations
    infer = classifier._infer  # type: ignore[attr-defined]
    in_run = [0.0]

    def timed_infer(feeds: dict[str, object]) -> object:
        started = time.perf_counter()
        try:
            return infer(feeds)
        finally:
            in_run[0] += time.perf_counter() - started

    classifier._infer = timed_infer  # type: ignore[attr-defined]
    done, started = 0, time.perf_counter()
    try:
        while time.perf_counter() - started < seconds:
            for i in range(0, len(texts), batch):
                classifier.detect_batch(texts[i : i + batch])  # type: ignore[attr-defined]
                done += len(texts[i : i + batch])
                if time.perf_counter() - started >= seconds:
                    break
    finally:
        del classifier._infer  # type: ignore[attr-defined]
    elapsed = time.perf_counter() - started
    return done / elapsed, in_run[0] / elapsed


def summarizer_rate(folder: Path, provider: str, texts: list[str]) -> dict[str, object]:
    from pipeline.runtime.summarizer import OnnxSummarizer

    summarizer = OnnxSummarizer(folder, provider=provider, batch_size=16)
    summarizer.summarize_batch(texts[:1], max_new_tokens=4)
    started = time.perf_counter()
    generations = summarizer.summarize_batch(texts[:32], max_new_tokens=64)
    seconds = time.perf_counter() - started
    tokens = sum(g.new_tokens for g in generations)
    return {"provider": provider, "notes": 32, "new_tokens": tokens, "tokens_per_s": round(tokens / seconds, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=1024)
    parser.add_argument("--max-batch", type=int, default=512)
    parser.add_argument("--seconds-per-point", type=float, default=3.0)
    parser.add_argument("--fp16", type=Path, default=None, help="the detector's fp16 GPU export (model gpu-export)")
    parser.add_argument("--summarizer", type=Path, default=None, help="a summarizer build folder, to time it too")
    args = parser.parse_args()
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier

    loading = preload_gpu_libraries()
    int8_dir, which = detector_dir()
    texts = notes(args.notes)
    available = ort.get_available_providers()
    gpu = [
        name
        for name, p in (("cuda", "CUDAExecutionProvider"), ("tensorrt", "TensorrtExecutionProvider"))
        if p in available
    ]
    print(f"onnxruntime {ort.__version__}; providers available: {', '.join(available)}; {loading}", flush=True)
    print(f"{len(texts)} notes, {min(map(len, texts))}-{max(map(len, texts))} characters", flush=True)
    if not gpu:
        print("NO GPU FOUND: onnxruntime offers no CUDA or TensorRT provider here; CPU figures only", flush=True)
    models = [("int8", int8_dir, which)]
    if args.fp16 is not None and (args.fp16 / "model.onnx").exists():
        models.append(("fp16", args.fp16, str(args.fp16)))
    rows: list[dict[str, object]] = []

    def run(fmt: str, folder: Path, requested: str, threads: int | None, batches: tuple[int, ...]) -> None:
        try:
            classifier = OnnxTokenClassifier(folder, provider=requested, threads=threads)
        except Exception as exc:  # a provider listed by onnxruntime whose libraries are absent (TensorRT)
            print(f"  {fmt} {requested}: did not start: {str(exc)[:300]}", flush=True)
            rows.append(
                {
                    "model": fmt,
                    "requested": requested,
                    "provider": "failed to start",
                    "threads": threads,
                    "batch": 0,
                    "notes_per_s": 0.0,
                    "error": str(exc)[:300],
                }
            )
            return
        for batch in batches:
            rate, in_model = measure(classifier, texts, batch, args.seconds_per_point)
            row = {
                "model": fmt,
                "requested": requested,
                "provider": classifier.provider,
                "threads": threads,
                "batch": batch,
                "notes_per_s": round(rate, 1),
                "share_in_model_run": round(in_model, 3),
            }
            rows.append(row)
            print(
                f"  {fmt} {requested:<9} {classifier.provider:<26} threads {threads or 'all'} "
                f"batch {batch:>3}: {rate:9.1f} notes/s, {100 * in_model:.0f}% of the time in the model's run",
                flush=True,
            )

    for fmt, folder, _ in models:
        for requested in gpu:
            run(fmt, folder, requested, None, tuple(b for b in GPU_BATCHES if b <= args.max_batch))
    # The CPU runs each window alone (see onnx_recognizer), so the batch size only groups notes per call.
    run("int8", int8_dir, "cpu", 1, (32,))
    run("int8", int8_dir, "cpu", os.cpu_count() or 1, (32,))

    summary: list[dict[str, object]] = []
    if args.summarizer is None:
        print("summarizer: not measured (no --summarizer build given)", flush=True)
    else:
        for requested in [*gpu, "cpu"]:
            summary.append(summarizer_rate(args.summarizer, requested, texts))
            print(f"  summarizer {requested}: {summary[-1]['tokens_per_s']} new tokens/s", flush=True)

    cpu_one = next(r["notes_per_s"] for r in rows if r["requested"] == "cpu" and r["threads"] == 1) or 1.0
    print(
        f"\n{'model':<5} {'requested':<9} {'provider used':<26} {'threads':>7} {'batch':>5} {'notes/s':>9} "
        f"{'x 1 CPU core':>12} {'in model run':>12}"
    )
    for r in rows:
        print(
            f"{r['model']:<5} {r['requested']:<9} {r['provider']:<26} {r['threads'] or 'all'!s:>7} {r['batch']:>5} "
            f"{r['notes_per_s']:>9.1f} {r['notes_per_s'] / cpu_one:>12.1f} "
            f"{100 * float(r.get('share_in_model_run', 0.0)):>11.0f}%"
        )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    payload = {
        "models": {fmt: label for fmt, _, label in models},
        "providers": available,
        "gpu_found": bool(gpu),
        "rows": rows,
        "summarizer": summary,
        "machine": platform.platform(),
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
    }
    (out / "gpu.json").write_text(json.dumps(payload, indent=2), encoding="utf-8")
    print(f"written {out / 'gpu.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
