"""Token pruning of the detector's last block (issue 29): the pruned graph on the shipped model, its word rule,
and when the runtime uses it."""

import shutil
from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")

from pipeline.modelbuild.token_pruning import Probe, fit_probe, prune_graph, word_keep  # noqa: E402
from pipeline.runtime.category_head import WindowFeatures  # noqa: E402
from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier  # noqa: E402
from pipeline.runtime.token_pruning import PRUNED_FILE, window_words  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[2] / "models" / "detector"
NOTE = "Seen by Dr. Alice Moreno at Lakeside Clinic on 4/12/2023; call 617-555-0199. No acute distress, BP 120/80."


def _folder(tmp_path: Path, threshold: float) -> Path:
    """A copy of the shipped detector folder with a pruned graph whose probe keeps everything (a very low
    threshold) or nothing but the special tokens (a very high one)."""
    folder = tmp_path / f"detector-{threshold:+.0e}"
    folder.mkdir()
    for name in ("model_quantized.onnx", "tokenizer.json", "labels.json"):
        shutil.copy(SHIPPED / name, folder / name)
    probe = Probe(np.zeros(384, dtype=np.float32), 0.0, threshold)
    onnx.save(prune_graph(onnx.load(str(folder / "model_quantized.onnx")), probe), str(folder / PRUNED_FILE))
    return folder


def _spans(model: OnnxTokenClassifier, text: str) -> list[tuple[int, int, str, float]]:
    return [(s.start, s.end, s.type.value, s.score) for s in model.detect(text)]


def test_window_words_numbers_words_and_isolates_special_tokens():
    ids = np.array([-1, 0, 0, 1, 2, 2, 2, -1, -1])
    assert window_words(ids).tolist() == [0, 1, 1, 2, 3, 3, 3, 4, 5]
    assert window_words(np.zeros(0, dtype=np.int64)).size == 0


def test_a_word_is_kept_whole_with_its_neighbours():
    words = np.array([0, 1, 1, 2, 3, 3, 4, 5])
    scores = np.array([-5, -5, 3, -5, -5, -5, -5, -5], dtype=np.float32)
    assert word_keep(scores, words, 0.0).tolist() == [True, True, True, True, False, False, False, False]


def test_probe_separates_what_it_was_fitted_on():
    rng = np.random.default_rng(1)
    states = rng.normal(size=(400, 6)).astype(np.float32)
    targets = states[:, 2] + 0.5 * states[:, 4] > 0.8
    weight, bias = fit_probe(states, targets)
    assert ((states @ weight + bias > 0) == targets).mean() > 0.95


def test_keeping_every_token_gives_the_shipped_models_spans(tmp_path):
    folder = _folder(tmp_path, -1e9)
    pruned = OnnxTokenClassifier(folder, provider="cpu", threads=1)
    full = OnnxTokenClassifier(folder, provider="cpu", threads=1, token_pruning=False)
    assert pruned._pruned is not None and full._pruned is None
    assert _spans(pruned, NOTE) and _spans(pruned, NOTE) == _spans(full, NOTE)


def test_dropped_tokens_are_not_phi_and_features_use_the_full_graph(tmp_path):
    folder = _folder(tmp_path, 1e9)
    model = OnnxTokenClassifier(folder, provider="cpu", threads=1)
    assert model.detect(NOTE) == []
    # With the category head's features asked for, every token runs through the whole model.
    model.enable_features(WindowFeatures())
    full = OnnxTokenClassifier(folder, provider="cpu", threads=1, token_pruning=False)
    assert _spans(model, NOTE) == _spans(full, NOTE) != []
