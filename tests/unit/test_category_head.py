"""One encoder pass for detection and classification: the category head beside the shipped detector.

The detector graph carries one extra output (its blocks' outputs); the token logits, and so the spans, must
be exactly those of the graph without it, the head must read the windows the detector's run left behind
(no second encoder run), and a head that does not fit the model file beside it stops the worker.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.sensitive import SensitiveCategory
from pipeline.runtime.category_head import ENCODER_OUTPUT, HEAD_CONFIG, HEAD_WEIGHTS, CategoryHead, WindowFeatures
from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier
from pipeline.runtime.sensitive_classifier import HeadClassifier, SensitiveModelError, build_classifier

DETECTOR = Path(__file__).resolve().parents[2] / "models" / "detector"
LONG = " ".join(
    f"Day {i}: Mr. Alvarez seen at St. Mary's on 03/{i + 1:02d}/2024, MRN 55{i}1234, call 617-555-01{i:02d}."
    for i in range(40)
)
TEXTS = [
    "Pt with opioid use disorder on methadone 90 mg daily from the OTP, UDS positive for fentanyl.",
    "HIV positive on Biktarvy, viral load undetectable, CD4 640. Seen by Dr. Jane Okafor on 4/2/2023.",
    "POD1 after right knee replacement, ambulating with PT, pain controlled, tolerating diet.",
    LONG,
    "",
]


def _key(spans):
    return [[(s.start, s.end, s.type, s.score, s.reasons) for s in text] for text in spans]


@pytest.fixture(scope="module")
def plain() -> OnnxTokenClassifier:
    return OnnxTokenClassifier(DETECTOR, provider="cpu", threads=1)


@pytest.fixture
def shared() -> HeadClassifier:
    encoder = OnnxTokenClassifier(DETECTOR, provider="cpu", threads=1)
    classifier = build_classifier(DETECTOR, provider="cpu", threads=1, evidence=False, encoder=encoder)
    assert isinstance(classifier, HeadClassifier) and classifier.encoder is encoder
    return classifier


def _counting(monkeypatch: pytest.MonkeyPatch, encoder: OnnxTokenClassifier) -> list[int]:
    runs: list[int] = []
    infer = encoder._infer

    def counted(feeds):
        runs.append(feeds["input_ids"].shape[0])
        return infer(feeds)

    monkeypatch.setattr(encoder, "_infer", counted)
    return runs


def test_spans_and_token_probabilities_are_identical_with_the_head_on(plain, shared):
    assert len(plain.tokenizer.encode(LONG, add_special_tokens=False).ids) > 3 * plain.max_length
    assert _key(shared.encoder.detect_batch(TEXTS)) == _key(plain.detect_batch(TEXTS))
    for with_head, without in zip(shared.encoder._forward(TEXTS)[1], plain._forward(TEXTS)[1], strict=True):
        assert np.array_equal(with_head, without)


def test_the_graph_without_the_added_output_gives_bit_identical_logits(plain, tmp_path):
    onnx = pytest.importorskip("onnx")
    from pipeline.modelbuild.sensitive.head import find_block_outputs
    from pipeline.runtime.providers import create_session

    model = onnx.load(str(DETECTOR / "model_quantized.onnx"))
    added = [n for n in model.graph.node if ENCODER_OUTPUT in n.output]
    assert len(added) == 1 and added[0].op_type == "Concat"
    recorded = json.loads((DETECTOR / HEAD_CONFIG).read_text(encoding="utf-8"))["encoder_tensors"]
    assert list(added[0].input) == recorded == find_block_outputs(model.graph)
    model.graph.node.remove(added[0])
    model.graph.output.remove(next(o for o in model.graph.output if o.name == ENCODER_OUTPUT))
    stripped = tmp_path / "stripped.onnx"
    onnx.save(model, str(stripped))
    original, _ = create_session(stripped, "cpu", 1)  # the runtime's own session options, as `plain` has
    ids = np.asarray([plain._prefix + plain.tokenizer.encode(TEXTS[1], add_special_tokens=False).ids + plain._suffix])
    feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    logits, states = plain.session.run(["logits", ENCODER_OUTPUT], feeds)
    assert np.array_equal(original.run(["logits"], feeds)[0], logits)
    assert states.shape == (1, ids.shape[1], 4 * 384)


def test_classification_after_detection_runs_no_second_encoder_pass(shared, monkeypatch):
    runs = _counting(monkeypatch, shared.encoder)
    shared.encoder.detect_batch(TEXTS)
    windows = len(runs)
    tokens = [len(shared.encoder.tokenizer.encode(t, add_special_tokens=False).ids) for t in TEXTS]
    assert windows == sum(len(shared.encoder._windows(0, n)) for n in tokens) > len(TEXTS)  # none for ""
    after_detection = shared.classify_batch(TEXTS)
    assert len(runs) == windows
    fresh = HeadClassifier(OnnxTokenClassifier(DETECTOR, provider="cpu", threads=1), shared.head)
    assert fresh.classify_batch(TEXTS) == after_detection
    assert after_detection[-1] == dict.fromkeys(shared.head.categories, 0.0)


def test_a_text_the_detector_has_not_seen_runs_the_encoder_once(shared, monkeypatch):
    runs = _counting(monkeypatch, shared.encoder)
    text = "Known bipolar disorder on lithium, psychiatry following."
    first = shared.classify_batch([text, text])
    assert len(runs) == 1 and first[0] == first[1]
    assert shared.classify_batch([text]) == first[:1] and len(runs) == 1
    assert set(first[0]) == set(SensitiveCategory) and all(0.0 <= s <= 1.0 for s in first[0].values())


def test_the_memo_is_bounded_by_windows_and_holds_no_text():
    memo = WindowFeatures(capacity=3)
    for index in range(3):
        memo.put(f"note {index}", np.full((1, 4), index, dtype=np.float32))
    memo.put("note 1", np.full((2, 4), 1, dtype=np.float32))  # again, now two windows: the oldest goes
    assert len(memo) == 2 and memo.get("note 0") is None and memo.get("note 2")[0, 0] == 2
    assert memo.get("note 1").shape == (2, 4)
    assert all(isinstance(key, bytes) and b"note" not in key for key in memo._memo)


def test_the_head_has_a_threshold_per_category_and_fits_the_encoder_width():
    head = CategoryHead(DETECTOR)
    assert set(head.categories) == set(SensitiveCategory) == set(head.thresholds)
    assert head.width == 2 * 4 * 384
    assert (DETECTOR / HEAD_WEIGHTS).stat().st_size < 4_000_000


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "detector"
    folder.mkdir()
    for path in DETECTOR.iterdir():
        (folder / path.name).symlink_to(path)
    return folder


def test_a_head_trained_on_another_model_file_stops_the_worker(tmp_path):
    folder = _copy(tmp_path)
    config = json.loads((DETECTOR / HEAD_CONFIG).read_text(encoding="utf-8"))
    (folder / HEAD_CONFIG).unlink()
    (folder / HEAD_CONFIG).write_text(json.dumps({**config, "trunk_sha256": "0" * 64}), encoding="utf-8")
    with pytest.raises(SensitiveModelError, match="build-category-head"):
        build_classifier(folder, provider="cpu", threads=1)


def test_a_missing_head_weights_file_stops_the_worker(tmp_path):
    folder = _copy(tmp_path)
    (folder / HEAD_WEIGHTS).unlink()
    with pytest.raises(SensitiveModelError, match="category head"):
        build_classifier(folder, provider="cpu", threads=1)


def test_the_worker_assembly_shares_the_detectors_encoder(base_settings, keyring):
    from pipeline.runtime.assembly import build_deidentifier

    settings = base_settings.with_overrides(sensitive_classifier=True, inference_threads=1)
    deidentifier = build_deidentifier(settings, keyring)
    model = deidentifier.classifier.model  # the evidence classifier's model
    assert isinstance(model, HeadClassifier) and model.encoder is deidentifier.detector.models[0]
