"""The ONNX token-classification runtime, on a tiny model the test builds (no torch, no download)."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from tokenizers import Tokenizer

pytest.importorskip("onnx", reason="the 'onnx' package (dev dependency) builds the tiny test model")

from pipeline.core.detection import EnsembleDetector, RuleDetector
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType
from pipeline.devtools.tiny_model import build_tiny_model
from pipeline.runtime.detectors import build_detector, execution_provider
from pipeline.runtime.labelmap import Tag, parse_tag
from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier, _ColumnSums, column_sums

NOTE = "The patient John Johnson was seen at Mercy General Hospital by Dr. Patel on 3/2. Jane Doe admitted."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny"), max_length=128, stride=8)


@pytest.fixture(scope="module")
def model(model_dir):
    return OnnxTokenClassifier(model_dir, provider="cpu", threads=1)


def values(text, spans):
    return [(text[s.start : s.end], s.type) for s in spans]


def test_subwords_map_back_to_whole_words_and_char_offsets(model):
    assert values(NOTE, model.detect(NOTE)) == [
        ("John Johnson", PhiType.NAME),
        ("Mercy General Hospital", PhiType.FACILITY),
        ("Patel", PhiType.NAME),
        ("Jane Doe", PhiType.NAME),
    ]


def test_spans_carry_model_reasons_and_scores(model):
    span = model.detect("Jane Doe")[0]
    assert span.detector == "model:" + model.model_dir.name
    assert "model" in span.reasons and 0.5 < span.score <= 1.0


def test_provider_is_reported(model):
    assert model.provider == "CPUExecutionProvider"


def test_sliding_windows_give_the_same_spans_as_one_window(model_dir, model):
    long_note = " ".join([NOTE] * 12)
    small = OnnxTokenClassifier(model_dir, provider="cpu", threads=1, max_length=10, stride=3)
    assert len(small._windows(0, 300)) > 10
    assert values(long_note, small.detect(long_note)) == values(long_note, model.detect(long_note))


def test_batching_with_padding_matches_one_by_one(model_dir):
    texts = ["", "Jane", NOTE, "nothing here", " ".join([NOTE] * 3)]
    batched = OnnxTokenClassifier(model_dir, provider="cpu", threads=1, batch_size=2, max_length=16, stride=4)
    together = batched.detect_batch(texts)
    assert [values(t, s) for t, s in zip(texts, together, strict=True)] == [values(t, batched.detect(t)) for t in texts]
    assert together[0] == [] and together[3] == []


def test_io_labels_without_prefixes_are_decoded(tmp_path):
    directory = build_tiny_model(tmp_path / "io")
    labels = {"id2label": {"0": "O", "1": "PATIENT", "2": "PATIENT", "3": "HOSPITAL", "4": "HOSPITAL"}}
    (directory / "labels.json").write_text(json.dumps(labels))
    model = OnnxTokenClassifier(directory, provider="cpu")
    assert values("John Smith, Mercy Hospital", model.detect("John Smith, Mercy Hospital")) == [
        ("John Smith", PhiType.NAME),
        ("Mercy Hospital", PhiType.FACILITY),
    ]


def test_first_subword_aggregation(model_dir):
    model = OnnxTokenClassifier(model_dir, provider="cpu", aggregation="first")
    assert values("Jack Johnson", model.detect("Jack Johnson")) == [("Johnson", PhiType.NAME)]


@pytest.mark.parametrize(
    "matrix",
    [
        [[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1], [0, 0, 1]],  # BIO: O, then B and I per type
        [[1, 0, 0], [0, 1, 0], [0, 0, 1]],  # IO: one tag per type
        [[0, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1], [0, 0, 0]],  # begin matrix: none for O and I
    ],
)
def test_column_sums_are_the_matrix_product_bit_for_bit(matrix):
    matrix = np.array(matrix, dtype=np.float32)
    plan = _ColumnSums.of(matrix)
    assert plan is not None
    rng = np.random.default_rng(7)
    logits = rng.normal(scale=6.0, size=(500, matrix.shape[0])).astype(np.float32)
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert np.array_equal(column_sums(probs, matrix, plan), probs @ matrix)
    assert column_sums(probs[:0], matrix, plan).shape == (0, matrix.shape[1])


def test_column_sums_fall_back_to_the_product_for_three_tags_per_type():
    matrix = np.array([[1, 0], [0, 1], [0, 1], [0, 1]], dtype=np.float32)  # BIOES: B, I and E of one type
    assert _ColumnSums.of(matrix) is None
    values = np.full((2, 4), 0.25, dtype=np.float32)
    assert column_sums(values, matrix, None).tolist() == [[0.25, 0.75], [0.25, 0.75]]


def test_quantized_file_is_preferred(tmp_path):
    directory = build_tiny_model(tmp_path / "q", quantized=True)
    assert not (directory / "model.onnx").exists()
    assert OnnxTokenClassifier(directory, provider="cpu").detect("Jane Doe")


def test_label_parsing():
    assert parse_tag("B-PATIENT") == Tag("B", PhiType.NAME)
    assert parse_tag("I-DATE") == Tag("I", PhiType.DATE)
    assert parse_tag("S-HOSPITAL") == Tag("B", PhiType.FACILITY)
    assert parse_tag("B-PROFESSION") == Tag("O", None)
    assert parse_tag("O") == Tag("O", None)


def test_missing_files_and_bad_settings_are_config_errors(tmp_path, model_dir):
    with pytest.raises(ConfigError, match=r"tokenizer\.json"):
        OnnxTokenClassifier(tmp_path)
    with pytest.raises(ConfigError, match="aggregation"):
        OnnxTokenClassifier(model_dir, aggregation="max")
    with pytest.raises(ConfigError, match="stride"):
        OnnxTokenClassifier(model_dir, provider="cpu", max_length=10, stride=9)
    bad = build_tiny_model(tmp_path / "bad")
    (bad / "labels.json").write_text(json.dumps(["O", "B-SPACESHIP"]))
    with pytest.raises(ConfigError, match="SPACESHIP"):
        OnnxTokenClassifier(bad)


def test_unavailable_provider_is_refused(model_dir):
    with pytest.raises(ConfigError, match="not available"):
        OnnxTokenClassifier(model_dir, provider="tensorrt-nope")


def test_build_detector_rules_only_and_with_model(model_dir):
    rules = build_detector(None)
    assert isinstance(rules, RuleDetector)
    assert execution_provider(rules) == "none"
    combined = build_detector(model_dir, provider="cpu", threads=1)
    assert isinstance(combined, EnsembleDetector)
    assert execution_provider(combined) == "CPUExecutionProvider"
    spans = combined.detect(NOTE)
    found = values(NOTE, spans)
    assert ("John Johnson", PhiType.NAME) in found  # the model alone knows this one
    assert ("3/2", PhiType.DATE) in found  # the rules alone know this one
    patel = next(s for s in spans if NOTE[s.start : s.end] == "Patel")
    assert "+" in patel.detector  # both agreed, merged into one span


def test_build_detector_rejects_missing_dir(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        build_detector(tmp_path / "absent")


def test_word_bounds_cover_every_token_once_one_word_id_each():
    # The shipped model's word-piece tokenizer (the tiny model's keeps words whole). Special tokens carry
    # no word id: each is a word of its own; the sub-words of one word are one group.
    path = Path(__file__).resolve().parents[2] / "models" / "detector" / "tokenizer.json"
    if not path.exists():
        pytest.skip("the shipped detector's tokenizer.json is absent")
    enc = Tokenizer.from_file(str(path)).encode("Dr. Johnsonville saw Mercy-General pts", add_special_tokens=True)
    firsts, lasts = OnnxTokenClassifier._words(enc)
    groups = [list(range(first, last + 1)) for first, last in zip(firsts.tolist(), lasts.tolist(), strict=True)]
    assert [t for group in groups for t in group] == list(range(len(enc.ids)))
    for group in groups:
        assert len({enc.word_ids[t] for t in group}) == 1
        assert enc.word_ids[group[0]] is not None or len(group) == 1
    for before, after in itertools.pairwise(groups):
        assert enc.word_ids[before[-1]] is None or enc.word_ids[before[-1]] != enc.word_ids[after[0]]
    assert any(len(group) > 1 for group in groups), "the text should split some word into sub-words"
    assert enc.word_ids[0] is None and enc.word_ids[-1] is None
