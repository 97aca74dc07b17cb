"""The detector for GPUs: fp16 weights with fused attention, from a build's fp32 export.

int8 is the CPU's format: on a GPU onnxruntime runs dynamic int8 (DynamicQuantizeLinear, MatMulInteger)
partly on the CPU, copying activations back and forth each layer. fp16 keeps every node on the GPU and
uses its tensor cores. onnxruntime's transformer optimizer fuses attention, LayerNorm and GELU first (on
the CPU the same fusions did not pay: bench/README.md), then weights become fp16 while inputs and the
logits stay as they are, so the runtime feeds and reads the same tensors on either provider.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

FP16_NAME = "model.onnx"
SIDE_FILES = ("tokenizer.json", "labels.json")


def export_fp16(fp32_dir: Path, out_dir: Path) -> Path:
    """Write ``out_dir/model.onnx`` (fp16, fused) with the tokenizer and label map beside it."""
    from onnxruntime.transformers import optimizer

    config = json.loads((fp32_dir / "config.json").read_text(encoding="utf-8"))
    model = optimizer.optimize_model(
        str(fp32_dir / "model.onnx"),
        model_type="bert",
        num_heads=int(config["num_attention_heads"]),
        hidden_size=int(config["hidden_size"]),
        opt_level=0,
        use_gpu=True,
    )
    model.convert_float_to_float16(keep_io_types=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_model_to_file(str(out_dir / FP16_NAME))
    for name in SIDE_FILES:
        shutil.copy2(fp32_dir / name, out_dir / name)
    return out_dir / FP16_NAME
