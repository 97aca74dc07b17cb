"""Trainable weights for a detector folder: a Hugging Face folder as it is, or the shipped ONNX model
turned back into a PyTorch token classifier.

The shipped folder holds only the int8 ONNX file the worker runs. Its weights are dequantized here
(int8 per-channel MatMul weights and the embedding tables: ``(q - zero_point) * scale``), each one
matched to its PyTorch name through the graph (a MatMul weight feeds the ``Add`` of the bias it shares a
Linear layer with), into a BERT token classifier of as many layers as the graph has. An fp32 ONNX export
(``model.onnx``) loads the same way without the dequantization. The rebuilt model's logits are compared
with onnxruntime's before training starts (:func:`agreement`).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from pipeline.core.errors import ConfigError
from pipeline.modelbuild.features import Window
from pipeline.modelbuild.labels import bio_labels
from pipeline.modelbuild.train import TOKENIZER_FILES, base_model_dir

_QUANTIZED = "_quantized"


class BaseModelError(ConfigError):
    """The base detector folder holds no model this step can train from."""


def _array(initializer: object) -> np.ndarray:
    from onnx import numpy_helper

    return numpy_helper.to_array(initializer)  # type: ignore[arg-type]


def onnx_state_dict(onnx_path: Path) -> dict[str, np.ndarray]:
    """PyTorch parameter names -> fp32 arrays, from an exported (fp32 or int8) token-classification graph."""
    import onnx

    graph = onnx.load(str(onnx_path)).graph
    arrays = {i.name: i for i in graph.initializer}
    consumers: dict[str, list[object]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    state: dict[str, np.ndarray] = {}
    for name, init in arrays.items():
        if name.endswith(("_scale", "_zero_point")):
            continue
        base = name.removesuffix(_QUANTIZED)
        value = _array(init).astype(np.float32)
        if name.endswith(_QUANTIZED):
            scale = _array(arrays[base + "_scale"]).astype(np.float32)
            zero = _array(arrays[base + "_zero_point"]).astype(np.float32)
            value = (value - zero) * scale  # per-channel scales run along the last axis
        if base.startswith(("bert.", "classifier.")):
            state[base] = value
            continue
        bias = _bias_after(name, consumers, arrays)
        if bias is None:
            raise BaseModelError(f"{onnx_path}: cannot tell which layer the weight {name} belongs to")
        state[bias.removesuffix(".bias") + ".weight"] = value.T.copy()  # MatMul (in, out) -> Linear (out, in)
    return state


def _bias_after(name: str, consumers: dict[str, list[object]], arrays: dict[str, object]) -> str | None:
    """The ``.bias`` initializer of the first ``Add`` downstream of ``name`` (a few nodes at most)."""
    frontier, seen = [name], set()
    for _ in range(6):
        following = []
        for value in frontier:
            for node in consumers.get(value, []):
                if id(node) in seen:
                    continue
                seen.add(id(node))
                if node.op_type == "Add":  # type: ignore[attr-defined]
                    biases = [i for i in node.input if i in arrays and i.endswith(".bias")]  # type: ignore[attr-defined]
                    if biases:
                        return biases[0]
                following.extend(node.output)  # type: ignore[attr-defined]
        frontier = following
    return None


def trainable_folder(base_dir: Path, out_dir: Path) -> Path:
    """A Hugging Face folder to fine-tune from: ``base_dir`` itself when it is one, else ``out_dir``
    written from the ONNX model in ``base_dir`` (int8 or fp32)."""
    if (base_dir / "config.json").exists() and any(base_dir.glob("*.safetensors")):
        return base_dir
    from pipeline.runtime.onnx_recognizer import find_model_file

    try:
        onnx_path = find_model_file(base_dir)
    except Exception as exc:
        raise BaseModelError(f"{base_dir}: no Hugging Face weights and no ONNX model ({type(exc).__name__})") from None
    import torch
    from transformers import BertConfig, BertForTokenClassification

    state = onnx_state_dict(onnx_path)
    layers = 1 + max(int(k.split(".encoder.layer.")[1].split(".")[0]) for k in state if ".encoder.layer." in k)
    labels = bio_labels()
    width = state["classifier.weight"].shape[0]
    if width != len(labels):
        raise BaseModelError(f"{base_dir}: the model has {width} classes, this version's label set {len(labels)}")
    config = json.loads((base_model_dir() / "config.json").read_text(encoding="utf-8"))
    config.update(
        num_hidden_layers=layers,
        architectures=["BertForTokenClassification"],
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForTokenClassification(BertConfig.from_dict(config))
    tensors = {k: torch.from_numpy(v) for k, v in state.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise BaseModelError(
            f"{onnx_path}: weights do not fit a {layers}-layer BERT "
            f"(missing {len(missing)}, unexpected {len(unexpected)})"
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir))
    for name in TOKENIZER_FILES:
        source = base_model_dir() / name
        if source.exists():
            shutil.copy2(source, out_dir / name)
    return out_dir


def agreement(hf_dir: Path, onnx_dir: Path, windows: Sequence[Window], threads: int = 2) -> dict[str, float | int]:
    """Token label agreement between the PyTorch model and the ONNX model it was rebuilt from, on ``windows``."""
    import torch
    from transformers import AutoModelForTokenClassification

    from pipeline.modelbuild.evaluate import label_agreement, token_labels
    from pipeline.runtime.onnx_recognizer import find_model_file

    model = AutoModelForTokenClassification.from_pretrained(str(hf_dir)).eval()
    ours = []
    with torch.no_grad():
        for window in windows:
            ids = torch.tensor([window.input_ids])
            logits = model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits[0]
            ours.append(logits[1:-1].argmax(-1).numpy())
    return label_agreement(token_labels(find_model_file(onnx_dir), windows, threads), ours)
