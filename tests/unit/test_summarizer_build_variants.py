"""``model build-summarizer`` makes only the variants asked for (int8 by default); fp32 only as an input."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.modelbuild import summarizer_build


@pytest.fixture
def steps(monkeypatch, tmp_path):
    """The build with its heavy steps (torch export, onnxruntime quantizer) replaced by file writers that
    record what ran; the orchestration under test (what is built, kept, skipped) is the real one."""
    gguf = tmp_path / "SmolLM2.gguf"
    gguf.write_bytes(b"weights")
    ran: list[str] = []

    def export(hf_dir: Path, staging: Path, progress) -> None:
        ran.append("fp32")
        (staging / "model.onnx").write_bytes(b"fp32")

    def quantize(fp32_dir: Path, staging: Path, variant: str, progress) -> None:
        assert (fp32_dir / "model.onnx").is_file()  # the quantizer's input exists when it runs
        ran.append(variant)
        (staging / "model.onnx").write_bytes(variant.encode())

    real_version = summarizer_build.importlib.metadata.version

    def version(package: str) -> str:  # the source package need not be installed for this test
        return "0.1.2" if package == summarizer_build.SOURCE_PACKAGE else real_version(package)

    monkeypatch.setattr(summarizer_build.importlib.metadata, "version", version)
    monkeypatch.setattr(summarizer_build, "find_gguf", lambda: gguf)
    monkeypatch.setattr(summarizer_build, "_dequantize_to_transformers", lambda gguf, out, progress: None)
    monkeypatch.setattr(summarizer_build, "_export_onnx", export)
    monkeypatch.setattr(summarizer_build, "_quantize", quantize)
    return ran


def test_only_the_chosen_variant_stays_and_a_rerun_rebuilds_nothing(steps, tmp_path):
    out = tmp_path / "summarizer"
    results = summarizer_build.build_summarizer(out, ["int8"], progress=lambda line: None)
    assert [(r.variant, r.built) for r in results] == [("int8", True)]
    assert steps == ["fp32", "int8"]
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["int8"]
    again = summarizer_build.build_summarizer(out, ["int8"], progress=lambda line: None)
    assert [(r.variant, r.built) for r in again] == [("int8", False)] and steps == ["fp32", "int8"]


def test_fp32_is_kept_when_asked_for(steps, tmp_path):
    out = tmp_path / "summarizer"
    summarizer_build.build_summarizer(out, ["fp32", "int4"], progress=lambda line: None)
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == ["fp32", "int4"]
