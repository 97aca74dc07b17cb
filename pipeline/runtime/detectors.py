"""Building the detector a worker or the CLI uses: rules alone, or rules plus an ONNX model."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.detection import EnsembleDetector, RuleDetector, TextDetector
from pipeline.core.detection.merge import DEFAULT_THRESHOLDS, Ensemble
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType

#: Per-type thresholds calibrated for the model in the same folder (``phi-pipeline model calibrate``).
THRESHOLDS_FILE = "thresholds.json"


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

    model = OnnxTokenClassifier(model_dir, provider=provider, threads=threads)
    return EnsembleDetector(rules, [model], ensemble=calibrated_ensemble(model_dir))


def calibrated_ensemble(model_dir: Path) -> Ensemble:
    """The merge with the thresholds calibrated for this model, or the defaults when it ships none."""
    path = model_dir / THRESHOLDS_FILE
    if not path.exists():
        return Ensemble()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["thresholds"]
        thresholds = {PhiType(name): float(value) for name, value in raw.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a valid thresholds file ({type(exc).__name__}); rebuild it with "
            "'phi-pipeline model calibrate' or remove it to use the default thresholds"
        ) from exc
    if any(not 0.0 <= v <= 1.0 for v in thresholds.values()):
        raise ConfigError(f"{path}: every threshold must be between 0 and 1")
    return Ensemble(thresholds={**DEFAULT_THRESHOLDS, **thresholds})


def execution_provider(detector: TextDetector) -> str:
    """The execution provider of the detector's model, or 'none' for rules only (for metrics and logs)."""
    models = getattr(detector, "models", ())
    return str(getattr(models[0], "provider", "unknown")) if models else "none"
