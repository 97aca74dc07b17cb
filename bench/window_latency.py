"""Milliseconds per model window on one CPU thread, for each ONNX file given, side by side in one run.

The detector's CPU levers are judged here (bench/README.md, "Detector vs Presidio"): quantizers, layer
counts, window lengths, batching. ``--fuse FP32_ONNX`` also builds, in a temporary folder, that model with
onnxruntime's transformer fusions (attention, LayerNorm, GELU) in fp32 and then dynamically quantized to
int8 the way the shipped model is, and times both beside the others.

    .venv/bin/python bench/window_latency.py models/detector/model_quantized.onnx \\
        models/build/detector-v5/onnx-fp32/model.onnx --fuse models/build/detector-v5/onnx-fp32/model.onnx

``--runtime-sessions`` also times each file as the runtime's CPU sessions open it (issue 29: without
onnxruntime's SkipLayerNormalization fusion). Times are the process's CPU time per window.

Prints a table and writes bench/results/window_latency.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "window_latency.json"
sys.path.insert(0, str(ROOT))
#: (label, tokens per window, windows per run)
SHAPES = (
    ("64 tokens", 64, 1),
    ("128 tokens", 128, 1),
    ("210 tokens", 210, 1),
    ("256 tokens", 256, 1),
    ("8 x 128 tokens", 128, 8),
)


def ms_per_window(path: Path, length: int, batch: int, runs: int, disabled: tuple[str, ...] = ()) -> float:
    """CPU milliseconds per window (the process's CPU time, steadier than the clock on a shared machine);
    ``disabled`` names onnxruntime graph optimizers left out, as the runtime's CPU sessions do."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=list(disabled)
    )
    names = {i.name for i in session.get_inputs()}
    ids = np.random.default_rng(7).integers(1000, 20000, size=(batch, length), dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    feeds = {name: value for name, value in feeds.items() if name in names}
    for _ in range(3):
        session.run(None, feeds)
    started = time.process_time()
    for _ in range(runs):
        session.run(None, feeds)
    return (time.process_time() - started) / runs * 1000 / batch


def fused_variants(fp32: Path, out_dir: Path) -> list[Path]:
    """``fp32`` with the transformer fusions, and that quantized like the shipped model (dynamic int8)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    config = json.loads((fp32.parent / "config.json").read_text(encoding="utf-8"))
    model = optimizer.optimize_model(
        str(fp32),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        opt_level=0,
    )
    fused = out_dir / "fused-fp32.onnx"
    model.save_model_to_file(str(fused))
    quantized = out_dir / "fused-int8.onnx"
    # The fused nodes defeat shape inference, so the quantizer is told the weights' type.
    quantize_dynamic(
        str(fused),
        str(quantized),
        weight_type=QuantType.QInt8,
        per_channel=True,
        op_types_to_quantize=["MatMul", "Gather"],
        extra_options={"DefaultTensorType": 1},
    )
    return [fused, quantized]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", type=Path, help="ONNX files to time")
    parser.add_argument("--fuse", type=Path, help="an fp32 export to time with the transformer fusions too")
    parser.add_argument("--runs", type=int, default=40, help="timed runs per point (default 40)")
    parser.add_argument(
        "--runtime-sessions",
        action="store_true",
        help="also time each file as the runtime's CPU sessions open it (without the fusions in "
        "pipeline.runtime.providers.CPU_DISABLED_OPTIMIZERS)",
    )
    args = parser.parse_args()
    from pipeline.runtime.providers import CPU_DISABLED_OPTIMIZERS

    variants = [("", ())] + ([(" (runtime session)", CPU_DISABLED_OPTIMIZERS)] if args.runtime_sessions else [])
    with tempfile.TemporaryDirectory() as tmp:
        models = [*args.models, *(fused_variants(args.fuse, Path(tmp)) if args.fuse else [])]
        if not models:
            parser.error("give at least one ONNX file, or --fuse")
        rows = {
            str(path) + suffix: {
                label: round(ms_per_window(path, n, b, args.runs, disabled), 2) for label, n, b in SHAPES
            }
            for path in models
            for suffix, disabled in variants
        }
    print(f"{'model (ms per window, 1 thread)':<70}" + "".join(f"{label:>16}" for label, _, _ in SHAPES))
    for name, row in rows.items():
        print(f"{name[-70:]:<70}" + "".join(f"{row[label]:>16.2f}" for label, _, _ in SHAPES))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"threads": 1, "runs": args.runs, "rows": rows}, indent=2), encoding="utf-8")
    print(f"written {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
