"""The shipped detector model (models/detector): loads through build_detector, finds held-out PHI, fits the budget.

Skipped with a message when the model has not been built (``phi-pipeline model build``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipeline.core.phi_types import PhiType
from pipeline.modelbuild.corpus import Split, generate

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "detector"
REQUIRED = ("model_quantized.onnx", "tokenizer.json", "labels.json")
KEY_TYPES = {PhiType.NAME, PhiType.DATE, PhiType.PHONE, PhiType.STREET, PhiType.CITY, PhiType.FACILITY, PhiType.MRN}

pytestmark = pytest.mark.skipif(
    not all((MODEL_DIR / name).exists() for name in REQUIRED),
    reason="models/detector is not built; run `phi-pipeline model build` (needs the models extra)",
)


@pytest.fixture(scope="module")
def detector():
    from pipeline.runtime.detectors import build_detector

    return build_detector(MODEL_DIR, provider="cpu", threads=1)


def test_shipped_files_are_int8_and_within_the_size_budget():
    total = sum(p.stat().st_size for p in MODEL_DIR.iterdir() if p.is_file())
    assert total <= 30e6, f"models/detector is {total / 1e6:.1f} MB"
    assert not (MODEL_DIR / "model.onnx").exists(), "the fp32 model belongs in the git-ignored build folder"
    onnx = pytest.importorskip("onnx", reason="the int8 graph check needs the onnx package")

    graph = onnx.load(str(MODEL_DIR / "model_quantized.onnx"), load_external_data=False).graph
    ops = {node.op_type for node in graph.node}
    assert ops & {"DynamicQuantizeLinear", "MatMulInteger", "DynamicQuantizeMatMul"}, "model is not int8-quantized"


def test_spans_do_not_depend_on_batch_neighbours():
    """A note's spans are the same alone, among 7 or among 64 notes, whatever the runtime's window batch."""
    from pipeline.runtime.detectors import build_detector

    notes = [n.text for n in generate(64, seed=29, split=Split.HELDOUT)]
    detector = build_detector(MODEL_DIR, provider="cpu", threads=1)
    alone = [detector.detect(text) for text in notes]
    for size in (7, 64):
        batched = [spans for i in range(0, len(notes), size) for spans in detector.detect_batch(notes[i : i + size])]
        changed = [i for i, (a, b) in enumerate(zip(alone, batched, strict=True)) if a != b]
        assert not changed, f"batch of {size}: {len(changed)} of {len(notes)} notes changed, first {changed[0]}"


def test_label_map_covers_every_phi_type():
    from pipeline.runtime.labelmap import load_label_map

    tags, settings = load_label_map(MODEL_DIR)
    assert {t.type for t in tags if t.type is not None} == set(PhiType)
    assert int(settings["max_length"]) <= 512


def test_recall_on_held_out_notes(detector):
    notes = generate(40, seed=97, split=Split.HELDOUT)
    found = total = 0
    for note, spans in zip(notes, detector.detect_batch([n.text for n in notes]), strict=True):
        for gold in note.spans:
            if gold.type not in KEY_TYPES:
                continue
            total += 1
            found += any(p.start < gold.end and gold.start < p.end for p in spans)
    assert total > 100
    # Any type counts: a name called a place is still redacted (the type-blind figure a leak is judged by).
    assert found / total >= 0.97, f"recall {found / total:.3f} on {total} key PHI spans"


def test_terse_clinical_text_without_phi_stays_clean(detector):
    text = (
        "PT RESTING IN BED. VS: BP 132/84 HR 88 RR 18 SPO2 97% RA. NEURO: A&O X3, GCS 15, MAE, NEG BABINSKI. "
        "FOLEY DRAINING CLEAR YELLOW URINE. METOPROLOL 25 MG PO BID GIVEN. PAIN 4/10. PMH: PARKINSON'S, HTN, DM2. "
        "POD DAY 2. MAY GO HOME TOMORROW IF AFEBRILE. WILL CONTINUE LASIX 40 MG IV BID."
    )
    spans = detector.detect(text)
    assert spans == [], [(text[s.start : s.end], s.type.value) for s in spans]


def test_names_in_context_are_found(detector):
    text = "SEEN BY DR. LEE. HUSBAND JIM AT BEDSIDE. DTR MARY CALLED ON 3/4. D/W K. PATEL RN."
    names = {text[s.start : s.end] for s in detector.detect(text) if s.type is PhiType.NAME}
    assert {"LEE", "JIM", "MARY"} <= {n.split()[-1] for n in names}


def test_report_states_agreement_and_quality():
    report = json.loads((MODEL_DIR / "report.json").read_text(encoding="utf-8"))
    chosen = report["quantization"]["candidates"][report["quantization"]["chosen"]]
    assert chosen["agreement"] >= 0.99
    assert "heldout" in report["evaluation"]


def test_reevaluation_refuses_a_missing_or_stale_build_folder(tmp_path):
    pytest.importorskip("tokenizers", reason="the model build needs the models extra")
    from pipeline.modelbuild.corpus import write_jsonl
    from pipeline.modelbuild.pipeline import BuildPlan, StaleBuildError, reevaluate

    out, build = tmp_path / "out", tmp_path / "build"
    out.mkdir()
    (build / "onnx-fp32").mkdir(parents=True)
    plan = BuildPlan(out_dir=out, build_dir=build, compare_presidio=False)
    with pytest.raises(StaleBuildError, match=r"report\.json is missing"):
        reevaluate(plan, progress=lambda _line: None)
    report = {"settings": {"seed": 13}, "corpus": {"heldout_notes": 3}}
    (out / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (build / "onnx-fp32" / "model.onnx").write_bytes(b"")
    write_jsonl(generate(3, 14, Split.HELDOUT), build / "heldout.jsonl")  # another seed: not this build's split
    with pytest.raises(StaleBuildError, match="no longer produces"):
        reevaluate(plan, progress=lambda _line: None)
    report["quantization"] = {"chosen": "q", "candidates": {"q": {"path": "elsewhere/int8-q/model_quantized.onnx"}}}
    (out / "report.json").write_text(json.dumps(report), encoding="utf-8")
    (build / "int8-q").mkdir()
    (build / "int8-q" / "model_quantized.onnx").write_bytes(b"one build")
    (out / "model_quantized.onnx").write_bytes(b"another build")
    with pytest.raises(StaleBuildError, match="is not the int8 model of"):
        reevaluate(plan, progress=lambda _line: None)
