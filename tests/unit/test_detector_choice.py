"""Which detector runs is never a surprise: the model unless rules only is asked for, named in logs and metrics."""

from __future__ import annotations

import hashlib
import logging
import shutil

import pytest

pytest.importorskip("onnx", reason="the 'onnx' package (dev dependency) builds the tiny test model")

from pipeline.config import DEFAULT_DETECTOR, DEFAULT_SCHEMA_DIR, Settings
from pipeline.core.detection import RuleDetector
from pipeline.core.errors import ConfigError
from pipeline.devtools.tiny_model import build_tiny_model
from pipeline.interfaces.stream_commands import announce_build
from pipeline.runtime.assembly import build_processor
from pipeline.runtime.detectors import DetectorModelError, build_detector, describe_detector
from pipeline.stream.metrics import PipelineMetrics


def test_defaults_point_at_the_shipped_model_and_schemas():
    assert (DEFAULT_DETECTOR / "labels.json").is_file() and (DEFAULT_DETECTOR / "tokenizer.json").is_file()
    assert any(DEFAULT_SCHEMA_DIR.glob("*.avsc"))
    settings = Settings.from_env({})
    assert settings.detector_model == DEFAULT_DETECTOR and not settings.rules_only


def test_rules_only_must_be_asked_for(tmp_path):
    with pytest.raises(ConfigError, match=r"PHI_DETECTOR_MODEL is empty.*PHI_RULES_ONLY=true"):
        Settings.from_env({"PHI_DETECTOR_MODEL": ""})
    with pytest.raises(ConfigError, match=r"does not exist.*PHI_RULES_ONLY=true"):
        Settings.from_env({"PHI_DETECTOR_MODEL": str(tmp_path / "absent")})
    assert Settings.from_env({"PHI_DETECTOR_MODEL": "", "PHI_RULES_ONLY": "true"}).rules_only


def test_describe_detector_names_the_model_file_by_its_hash(tmp_path):
    assert describe_detector(build_detector(None)) == "rules-only"
    model_dir = build_tiny_model(tmp_path / "tiny-a")
    digest = hashlib.sha256((model_dir / "model.onnx").read_bytes()).hexdigest()[:12]
    assert describe_detector(build_detector(model_dir, provider="cpu")) == f"tiny-a/model.onnx@sha256:{digest}"
    import onnx

    rebuilt = onnx.load(model_dir / "model.onnx")  # another build of the same model: another name
    rebuilt.doc_string = "rebuilt"
    onnx.save(rebuilt, model_dir / "model.onnx")
    assert describe_detector(build_detector(model_dir, provider="cpu")).split("@")[1] != f"sha256:{digest}"


def test_an_unreadable_model_is_refused_not_dropped(tmp_path):
    model_dir = build_tiny_model(tmp_path / "tiny")
    (model_dir / "model.onnx").write_bytes(b"\x00garbage")
    with pytest.raises(DetectorModelError, match=r"cannot be loaded.*PHI_RULES_ONLY=true"):
        build_detector(model_dir, provider="cpu")
    shutil.rmtree(model_dir)
    model_dir.mkdir()
    with pytest.raises(DetectorModelError, match=r"cannot be loaded: tokenizer\.json is missing"):
        build_detector(model_dir, provider="cpu")


def test_build_info_and_start_up_log_name_the_detector(base_settings, keyring, tmp_path, caplog):
    model_dir = build_tiny_model(tmp_path / "tiny")
    for settings, expected in (
        (base_settings.with_overrides(detector_model=model_dir, execution_provider="cpu"), "tiny/model.onnx@sha256:"),
        (base_settings.with_overrides(detector_model=None, rules_only=True), "rules-only"),
    ):
        processor = build_processor(settings, keyring)
        assert isinstance(processor.detector, RuleDetector) == settings.rules_only
        metrics = PipelineMetrics()
        with caplog.at_level(logging.INFO, logger="pipeline.interfaces.stream_commands"):
            name = announce_build(settings, processor, None, metrics)
        assert name.startswith(expected)
        assert f'detector_model="{name}"' in metrics.render().decode()
        assert f"detector: {name}" in caplog.text
