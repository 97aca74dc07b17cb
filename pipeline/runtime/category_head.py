"""The sensitive-category head on the detector's encoder: one encoder pass per window for both tasks.

The detector graph carries one extra output, :data:`ENCODER_OUTPUT` (its transformer blocks' outputs, the
last of them the tensor that feeds the token-classification head; added at build time by ``phi-pipeline
model build-category-head``, which leaves every other node as it was). Each window the detector runs is pooled
here (:func:`pool`: the mean and the maximum over the window's text tokens) and kept, per text, in a small
:class:`WindowFeatures` memo; the category head (:class:`CategoryHead`: a two-layer perceptron per window,
a sigmoid per category, a category's note score its highest over the windows) reads the memo, so classifying
a text the detector has just seen costs the head, not a second encoder run.

The head's files sit beside the detector: ``category_head.npz`` (the weights, float32) and
``category_head.json`` (categories, thresholds, the pooling and the SHA-256 of the model file the head was
trained on: a head never runs on a trunk it was not trained for).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from threadpoolctl import ThreadpoolController

from pipeline.core.errors import ConfigError
from pipeline.core.sensitive import SensitiveCategory, UnknownCategoryError, parse_category

#: The detector graph's extra output: its transformer blocks' outputs (the last one the tensor that feeds the
#: token-classification head), concatenated on the hidden axis (batch, tokens, blocks x hidden).
ENCODER_OUTPUT = "encoder_states"
HEAD_WEIGHTS = "category_head.npz"
HEAD_CONFIG = "category_head.json"
POOLING = "mean+max"


def pool(hidden: np.ndarray) -> np.ndarray:
    """One window's feature vector: the mean and the maximum over its text tokens' encoder states."""
    return np.concatenate([hidden.mean(axis=0), hidden.max(axis=0)]).astype(np.float32)


def file_digest(path: Path) -> str:
    """The SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def text_key(text: str) -> bytes:
    """The memo's key for a text: a digest, so the memo holds no text."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class WindowFeatures:
    """Per text, the pooled features of each window the encoder ran on it: the most recent texts, at most
    ``capacity`` windows in all (2,048 windows of the shipped detector's 3,072 features are 25 MB; a worker
    batch of 64 notes needs a few hundred), keyed by a digest of the text."""

    def __init__(self, capacity: int = 2048) -> None:
        self.capacity = capacity
        self._memo: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._windows = 0
        self._lock = threading.Lock()

    def put(self, text: str, features: np.ndarray) -> None:
        key = text_key(text)
        with self._lock:
            previous = self._memo.pop(key, None)
            self._windows += len(features) - (0 if previous is None else len(previous))
            self._memo[key] = features
            while self._windows > self.capacity and len(self._memo) > 1:
                self._windows -= len(self._memo.popitem(last=False)[1])

    def get(self, text: str) -> np.ndarray | None:
        """The text's window features (None when the encoder has not run on it lately)."""
        with self._lock:
            return self._memo.get(text_key(text))

    def __len__(self) -> int:
        return len(self._memo)


class CategoryHead:
    """The category head's weights and settings, read from a model folder."""

    def __init__(self, model_dir: Path) -> None:
        config_path, weights_path = model_dir / HEAD_CONFIG, model_dir / HEAD_WEIGHTS
        try:
            config = json.loads(config_path.read_text(encoding="utf-8"))
            self.categories = [parse_category(str(name)) for name in config["categories"]]
            self.thresholds = {parse_category(k): float(v) for k, v in config["thresholds"]["values"].items()}
            self.trunk_sha256 = str(config["trunk_sha256"])
            pooling = str(config["pooling"])
            with np.load(weights_path) as weights:
                self.layers = [
                    (weights[f"w{i}"].astype(np.float32), weights[f"b{i}"].astype(np.float32))
                    for i in range(int(config["layers"]))
                ]
        except UnknownCategoryError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"{model_dir}: no readable category head ({type(exc).__name__}: {exc})") from None
        if pooling != POOLING:
            raise ConfigError(f"{config_path}: pooling {pooling!r} is not {POOLING!r}; rebuild the head")
        missing = [c.value for c in self.categories if c not in self.thresholds]
        if missing:
            raise ConfigError(f"{config_path}: no threshold for {', '.join(missing)}")
        if any(not 0.0 < t <= 1.0 for t in self.thresholds.values()):
            raise ConfigError(f"{config_path}: every threshold must be above 0 and at most 1")
        if self.layers[-1][0].shape[1] != len(self.categories):
            raise ConfigError(f"{model_dir}: the head has {self.layers[-1][0].shape[1]} outputs for "
                              f"{len(self.categories)} categories")  # fmt: skip

    @property
    def width(self) -> int:
        """The feature width the head takes (twice the encoder output's width)."""
        return int(self.layers[0][0].shape[0])

    def scores(self, features: np.ndarray) -> dict[SensitiveCategory, float]:
        """A note's score per category: its highest over the windows (0 for a text without windows)."""
        if features.shape[0] == 0:
            return dict.fromkeys(self.categories, 0.0)
        best = probabilities(self.layers, features).max(axis=0)
        return {c: round(float(s), 4) for c, s in zip(self.categories, best, strict=True)}


def probabilities(layers: list[tuple[np.ndarray, np.ndarray]], features: np.ndarray) -> np.ndarray:
    """Per window (rows of ``features``), a probability per category: linear layers with ReLU between them,
    a sigmoid at the end. The products run on numpy's BLAS in the calling thread only (see :func:`one_blas_thread`)."""
    x = features
    with one_blas_thread():
        for index, (weight, bias) in enumerate(layers):
            x = x @ weight + bias
            if index < len(layers) - 1:
                x = np.maximum(x, 0.0)
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # the logistic function, without overflow for large logits


@functools.cache
def _blas() -> ThreadpoolController:
    return ThreadpoolController()


def one_blas_thread() -> contextlib.AbstractContextManager[object]:
    """numpy's BLAS limited to the calling thread for the block (about 10 us to enter and leave). A head's
    products are a few windows by 3,072 by 128: OpenBLAS splits them over its threads, which then spin on
    the other core for a while after each call; with every note classified that spinning cost 1.5 to 5 ms
    of CPU per note on 2 cores. Each output is the same dot product either way (the threads split rows
    and columns, not the sums)."""
    return _blas().limit(limits=1, user_api="blas")


def has_head(model_dir: Path) -> bool:
    """Whether ``model_dir`` holds a category head (rather than a separate sequence classifier)."""
    return (model_dir / HEAD_CONFIG).exists()
