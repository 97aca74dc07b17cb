"""int8 dynamic quantization of the exported model, two ways, so the better one can be shipped.

- optimum's ``ORTQuantizer`` with the AVX-512 VNNI dynamic, per-channel configuration;
- onnxruntime's ``quantize_dynamic`` with per-channel signed int8 weights.

Both quantize MatMul weights and the Gather of the word embeddings (the embedding table is half of the
fp32 file; left in fp32 the model would not fit the repository budget). Each candidate lands in its
own folder beside a copy of the tokenizer and label map, ready for the runtime to load.
"""

from __future__ import annotations

import shutil
from pathlib import Path

QUANTIZED_NAME = "model_quantized.onnx"
OPERATORS = ["MatMul", "Gather"]
SIDE_FILES = ("tokenizer.json", "labels.json")


def _with_side_files(src_dir: Path, out_dir: Path) -> None:
    for name in SIDE_FILES:
        shutil.copy2(src_dir / name, out_dir / name)


def quantize_with_optimum(onnx_dir: Path, out_dir: Path) -> Path:
    """optimum ``ORTQuantizer`` (dynamic, per-channel, symmetric int8 weights) into ``out_dir``."""
    from optimum.onnxruntime import ORTQuantizer
    from optimum.onnxruntime.configuration import AutoQuantizationConfig

    out_dir.mkdir(parents=True, exist_ok=True)
    quantizer = ORTQuantizer.from_pretrained(str(onnx_dir), file_name="model.onnx")
    config = AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True, operators_to_quantize=OPERATORS)
    quantizer.quantize(quantization_config=config, save_dir=str(out_dir))
    _with_side_files(onnx_dir, out_dir)
    for extra in ("config.json", "ort_config.json"):
        (out_dir / extra).unlink(missing_ok=True)
    return out_dir / QUANTIZED_NAME


def quantize_with_onnxruntime(onnx_dir: Path, out_dir: Path) -> Path:
    """onnxruntime ``quantize_dynamic`` (per-channel, QInt8 weights) into ``out_dir``."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / QUANTIZED_NAME
    quantize_dynamic(
        model_input=str(onnx_dir / "model.onnx"),
        model_output=str(target),
        per_channel=True,
        weight_type=QuantType.QInt8,
        op_types_to_quantize=OPERATORS,
    )
    _with_side_files(onnx_dir, out_dir)
    return target


QUANTIZERS = {
    "optimum-ortquantizer": quantize_with_optimum,
    "onnxruntime-quantize_dynamic": quantize_with_onnxruntime,
}
