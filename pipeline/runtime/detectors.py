"""Building the detector a worker or the CLI uses: rules alone, or rules plus an ONNX model."""

from __future__ import annotations

from pathlib import Path

from pipeline.core.detection import EnsembleDetector, RuleDetector, TextDetector
from pipeline.core.errors import ConfigError


def build_detector(model_dir: Path | None, provider: str = "auto", threads: int | None = None) -> TextDetector:
    """Rules only when ``model_dir`` is None; otherwise rules and the model in ``model_dir``, merged.

    The model's provider is chosen once here ('auto' prefers TensorRT, CUDA, then CPU) and is readable
    as ``detector.models[0].provider``.
    """
    rules = RuleDetector()
    if model_dir is None:
        return rules
    if not model_dir.is_dir():
        raise ConfigError(f"model directory {model_dir} does not exist; pass a folder or omit --model")
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier

    return EnsembleDetector(rules, [OnnxTokenClassifier(model_dir, provider=provider, threads=threads)])


def execution_provider(detector: TextDetector) -> str:
    """The execution provider of the detector's model, or 'none' for rules only (for metrics and logs)."""
    models = getattr(detector, "models", ())
    return str(getattr(models[0], "provider", "unknown")) if models else "none"
