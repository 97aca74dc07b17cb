"""int8 quantization of the exported model, three ways, measured side by side.

- onnxruntime's ``quantize_static`` with scales calibrated on training windows (QDQ, per-channel weights):
  activation scales are fixed numbers in the file, so a window's output never depends on the other
  windows in its batch. This is the one shipped (a note's spans must not depend on its neighbours);
- optimum's ``ORTQuantizer`` with the AVX-512 VNNI dynamic, per-channel configuration;
- onnxruntime's ``quantize_dynamic`` with per-channel signed int8 weights.

The dynamic two compute activation scales from the whole batch tensor at run time: measured on the
previous build, a third of notes changed their spans between batch sizes 1 and 64. They stay as
reference points for accuracy.

Both quantize MatMul weights and the Gather of the word embeddings (the embedding table is half of the
fp32 file; left in fp32 the model would not fit the repository budget). Each candidate lands in its
own folder beside a copy of the tokenizer and label map, ready for the runtime to load.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

QUANTIZED_NAME = "model_quantized.onnx"
OPERATORS = ["MatMul", "Gather"]
SIDE_FILES = ("tokenizer.json", "labels.json")


def _with_side_files(src_dir: Path, out_dir: Path) -> None:
    for name in SIDE_FILES:
        shutil.copy2(src_dir / name, out_dir / name)


#: Windows that set the static activation ranges; every one is padded to the model's window length.
CALIBRATION_WINDOWS = 256


class _WindowFeeds:
    """onnxruntime's calibration data reader over token-id windows (one window per feed)."""

    def __init__(self, windows: Sequence[Sequence[int]], width: int, input_names: set[str]) -> None:
        self._iter = self._feeds(windows, width, input_names)

    @staticmethod
    def _feeds(windows: Sequence[Sequence[int]], width: int, names: set[str]) -> Iterator[dict[str, np.ndarray]]:
        for window in windows:
            ids = np.zeros((1, width), dtype=np.int64)
            mask = np.zeros_like(ids)
            ids[0, : len(window)] = window
            mask[0, : len(window)] = 1
            feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            yield {k: v for k, v in feeds.items() if k in names}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._iter, None)


def quantize_static_calibrated(onnx_dir: Path, out_dir: Path, calibration: Sequence[Sequence[int]] = ()) -> Path:
    """onnxruntime ``quantize_static`` (QDQ, per-channel QInt8 weights, QUInt8 activations, percentile
    ranges from ``calibration`` windows of token ids; the attention products between activations stay fp32)
    into ``out_dir``."""
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not calibration:
        raise ValueError("static quantization needs calibration windows")
    out_dir.mkdir(parents=True, exist_ok=True)
    prepared = out_dir / "model-preprocessed.onnx"
    quant_pre_process(str(onnx_dir / "model.onnx"), str(prepared), skip_symbolic_shape=True)
    names = {i.name for i in ort.InferenceSession(str(prepared), providers=["CPUExecutionProvider"]).get_inputs()}
    import onnx

    graph = onnx.load(str(prepared)).graph
    weights = {i.name for i in graph.initializer}
    activation_products = [n.name for n in graph.node if n.op_type == "MatMul" and not set(n.input) & weights]
    width = max(len(w) for w in calibration)
    target = out_dir / QUANTIZED_NAME
    quantize_static(
        model_input=str(prepared),
        model_output=str(target),
        calibration_data_reader=_WindowFeeds(calibration, width, names),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        weight_type=QuantType.QInt8,
        activation_type=QuantType.QUInt8,
        op_types_to_quantize=OPERATORS,
        calibrate_method=CalibrationMethod.Percentile,
        nodes_to_exclude=activation_products,
        extra_options={"ActivationSymmetric": False, "WeightSymmetric": True},
    )
    prepared.unlink(missing_ok=True)
    _with_side_files(onnx_dir, out_dir)
    return target


def quantize_with_optimum(onnx_dir: Path, out_dir: Path, calibration: Sequence[Sequence[int]] = ()) -> Path:
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


def quantize_with_onnxruntime(onnx_dir: Path, out_dir: Path, calibration: Sequence[Sequence[int]] = ()) -> Path:
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


#: Name -> quantizer. Each takes the fp32 folder, an output folder and calibration windows (the dynamic
#: ones ignore them).
QUANTIZERS = {
    "onnxruntime-quantize_static": quantize_static_calibrated,
    "optimum-ortquantizer": quantize_with_optimum,
    "onnxruntime-quantize_dynamic": quantize_with_onnxruntime,
}
#: Shipped: the best agreement with fp32; batch independence comes from running each window alone.
SHIPPED_QUANTIZER = "onnxruntime-quantize_dynamic"
