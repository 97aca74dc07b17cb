"""How detection throughput and memory grow with note length and with batch size.

For notes of 1 to 50 sentences (synthetic clinical sentences carrying PHI), rules-only and rules plus
the int8 model (when models/detector exists): notes per second, characters per second and the
process's resident memory after the run. Then, at 10 sentences, batch sizes 1 to 128 for the model.
Single process, one thread for onnxruntime so figures are per core. Prints tables and writes
bench/results/scaling.json.

    .venv/bin/python bench/scaling.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from gpu_bench import SENTENCES  # the same sentences as the GPU bench (bench/ is not a package)

from pipeline.runtime.detectors import build_detector

ROOT = Path(__file__).resolve().parent.parent
LENGTHS = (1, 2, 5, 10, 20, 50)
BATCHES = (1, 4, 16, 32, 64, 128)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def note(sentences: int, offset: int) -> str:
    return " ".join(SENTENCES[(offset + j) % len(SENTENCES)] for j in range(sentences))


def rate(detector: object, texts: list[str], batch: int, seconds: float) -> float:
    detector.detect_batch(texts[:batch])  # type: ignore[attr-defined]
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for i in range(0, len(texts), batch):
            detector.detect_batch(texts[i : i + batch])  # type: ignore[attr-defined]
            done += len(texts[i : i + batch])
    return done / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    detectors = {"rules": build_detector(None)}
    model = ROOT / "models" / "detector"
    if (model / "tokenizer.json").exists():
        detectors["rules+int8"] = build_detector(model, provider="cpu", threads=1)
    by_length = []
    print(f"{'detector':<11} {'sentences':>9} {'chars':>6} {'notes/s':>9} {'kchars/s':>9} {'RSS MB':>7}")
    for name, detector in detectors.items():
        for length in LENGTHS:
            texts = [note(length, i) for i in range(32)]
            per_s = rate(detector, texts, 32, args.seconds)
            chars = sum(map(len, texts)) / len(texts)
            row = {
                "detector": name,
                "sentences": length,
                "chars": chars,
                "notes_per_s": per_s,
                "kchars_per_s": per_s * chars / 1000,
                "rss_mb": rss_mb(),
            }
            by_length.append(row)
            print(
                f"{name:<11} {length:>9} {chars:>6.0f} {per_s:>9.1f} {row['kchars_per_s']:>9.1f} {row['rss_mb']:>7.0f}"
            )
    by_batch = []
    if "rules+int8" in detectors:
        classifier = detectors["rules+int8"].models[0]  # type: ignore[attr-defined]
        texts = [note(10, i) for i in range(128)]
        print(f"\n{'batch':>5} {'notes/s (model only, 10 sentences)':>36}")
        for batch in BATCHES:
            classifier.batch_size = batch
            per_s = rate(classifier, texts, batch, args.seconds)
            by_batch.append({"batch": batch, "notes_per_s": per_s})
            print(f"{batch:>5} {per_s:>36.1f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps({"by_length": by_length, "by_batch": by_batch}, indent=2))
    plot(by_length, out / "scaling.png")


def plot(rows: list[dict[str, float]], path: Path) -> None:
    """Throughput against note length, one line per detector (skipped without matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install matplotlib)")
        return
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in sorted({str(r["detector"]) for r in rows}):
        mine = [r for r in rows if r["detector"] == name]
        ax.plot([r["chars"] for r in mine], [r["kchars_per_s"] for r in mine], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("note length (characters)")
    ax.set_ylabel("thousand characters per second, one core")
    ax.set_title("PHI detection throughput by note length")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
