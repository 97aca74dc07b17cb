"""ONNX export of the fine-tuned model with optimum (task: token-classification), plus the label map.

The exported folder is what :class:`pipeline.runtime.onnx_recognizer.OnnxTokenClassifier` loads:
``model.onnx``, ``tokenizer.json`` and ``labels.json`` (id2label plus the window settings the model was
trained with, so the runtime cuts windows the same way).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from pipeline.modelbuild.labels import bio_labels

RUNTIME_FILES = ("tokenizer.json",)
#: ONNX opset of the export (optimum recommends at least 18 for BERT).
OPSET = 18


def write_label_map(out_dir: Path, max_length: int, stride: int) -> Path:
    """``labels.json``: ``{"id2label": {...}, "max_length": ..., "stride": ..., "pad_id": 0}``."""
    payload = {
        "id2label": {str(i): label for i, label in enumerate(bio_labels())},
        "max_length": max_length,
        "stride": stride,
        "pad_id": 0,
    }
    path = out_dir / "labels.json"
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    return path


def export_onnx(trained_dir: Path, out_dir: Path, max_length: int, stride: int) -> Path:
    """Export ``trained_dir`` (Hugging Face format) to ``out_dir/model.onnx``; returns the model path."""
    path = export_task(trained_dir, out_dir, "token-classification")
    write_label_map(out_dir, max_length, stride)
    return path


def export_task(trained_dir: Path, out_dir: Path, task: str) -> Path:
    """optimum's export of ``trained_dir`` for ``task`` (validated against PyTorch) into ``out_dir/model.onnx``,
    with the tokenizer beside it; the caller writes the label map its runtime reads."""
    from optimum.exporters.onnx import main_export

    out_dir.mkdir(parents=True, exist_ok=True)
    main_export(
        model_name_or_path=str(trained_dir),
        output=out_dir,
        task=task,
        opset=OPSET,
        device="cpu",
        do_validation=True,
        local_files_only=True,
    )
    for name in RUNTIME_FILES:
        if not (out_dir / name).exists():
            shutil.copy2(trained_dir / name, out_dir / name)
    return out_dir / "model.onnx"
