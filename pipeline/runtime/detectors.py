"""Building the detector a worker or the CLI uses: rules alone, or rules plus an ONNX model."""

from __future__ import annotations

import json
from pathlib import Path

from pipeline.core.detection import EnsembleDetector, RuleDetector
from pipeline.core.detection.base import Detector
from pipeline.core.detection.merge import DEFAULT_THRESHOLDS, Ensemble
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType

#: Per-type thresholds calibrated for the model in the same folder (``phi-pipeline model calibrate``).
THRESHOLDS_FILE = "thresholds.json"

RULES_ONLY = "rules-only"


class DetectorModelError(ConfigError):
    """The configured detector model is missing or cannot be loaded; the worker and ``detect`` refuse to start."""


def _refusal(model_dir: Path, problem: str) -> DetectorModelError:
    return DetectorModelError(
        f"detector model {model_dir}: {problem}. Restore the folder (the package ships one), point "
        "PHI_DETECTOR_MODEL or --model at a working model, or ask for the rules alone on purpose: "
        "PHI_RULES_ONLY=true for the worker, --rules-only for detect (far lower recall)"
    )


def build_detector(model_dir: Path | None, provider: str = "auto", threads: int | None = None) -> Detector:
    """Rules only when ``model_dir`` is None; otherwise rules and the model in ``model_dir``, merged.

    A model folder that is missing or unreadable (files absent, corrupt ONNX, unreadable tokenizer) raises
    :class:`DetectorModelError`: never a silent fall-back to the rules alone. The model's provider is chosen
    once here ('auto' prefers TensorRT, CUDA, then CPU) and is readable as ``detector.models[0].provider``.
    """
    rules = RuleDetector()
    if model_dir is None:
        return rules
    if not model_dir.is_dir():
        raise _refusal(model_dir, "folder does not exist")
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier

    try:
        model = OnnxTokenClassifier(model_dir, provider=provider, threads=threads)
    except ConfigError as exc:
        raise _refusal(model_dir, "cannot be loaded: " + str(exc).removeprefix(f"{model_dir}: ").rstrip(". ")) from None
    except Exception as exc:  # onnxruntime and tokenizers raise their own classes for unreadable files
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise _refusal(model_dir, f"cannot be loaded ({type(exc).__name__}: {first_line})") from None
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


def execution_provider(detector: Detector) -> str:
    """The execution provider of the detector's model, or 'none' for rules only (for metrics and logs)."""
    return detector.models[0].provider if detector.models else "none"


def describe_detector(detector: Detector) -> str:
    """The detector in use, for the start-up log and ``phi_build_info``: 'rules-only', or the model folder,
    file and the first 12 hex digits of the file's SHA-256 (so two builds of a model never look alike)."""
    if not detector.models:
        return RULES_ONLY
    names = []
    for model in detector.models:
        model_dir = model.model_dir
        if model_dir is None:
            names.append(model.name)
            continue
        from pipeline.runtime.category_head import file_digest
        from pipeline.runtime.onnx_recognizer import find_model_file

        path = find_model_file(Path(model_dir))
        names.append(f"{Path(model_dir).name}/{path.name}@sha256:{file_digest(path)[:12]}")
    return "+".join(names)
