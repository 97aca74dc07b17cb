"""The sensitive-category classifier: a :class:`~pipeline.core.sensitive.NoteClassifier` on an ONNX model.

Two kinds of model folder. The shipped one is the detector's own folder with a category head beside the
model (``category_head.json``, :mod:`pipeline.runtime.category_head`): :class:`HeadClassifier` reads the
pooled window features the detector's run left behind, so detection and classification share one encoder
pass per window (a text the detector has not seen runs the encoder once, for its features). The other is a
separate sequence classifier (``phi-pipeline model build-sensitive``, :class:`OnnxNoteClassifier`):

The model folder holds ``model_quantized.onnx`` (static int8; ``model.onnx`` when only the fp32 export is
there), ``tokenizer.json``, ``labels.json`` (``{"categories": [...], "max_length": 256, "stride": 64}``)
and ``thresholds.json`` (per category, chosen for recall by the build). A note longer than one window is
cut into overlapping windows, as the detector does, and a category's score is its highest over the
windows (a category mentioned once in a long note still counts). Each window runs alone and unpadded, so
a note's scores never depend on the notes batched with it; the model's activation scales are fixed
numbers in the file (static quantization), so nothing per batch could move them either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from pipeline.core.errors import ConfigError
from pipeline.core.sensitive import NoteClassifier, SensitiveCategory, UnknownCategoryError, parse_category
from pipeline.core.sensitive_evidence import EvidenceClassifier
from pipeline.runtime.category_head import CategoryHead, WindowFeatures, file_digest, has_head
from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier, find_model_file, special_tokens, window_bounds
from pipeline.runtime.providers import create_session

THRESHOLDS_FILE = "thresholds.json"
LABELS_FILE = "labels.json"


class SensitiveModelError(ConfigError):
    """The configured sensitive-category model is missing or cannot be loaded; the worker refuses to start."""

    reason = "sensitive-model"


def _refusal(model_dir: Path, problem: str) -> SensitiveModelError:
    return SensitiveModelError(
        f"sensitive-category model {model_dir}: {problem}. Restore the folder (the package ships the category "
        "head beside the detector, models/detector), point PHI_SENSITIVE_MODEL at a working model, or turn the "
        "classifier off on purpose with PHI_SENSITIVE_CLASSIFIER=false (sensitive notes then flow like any other)"
    )


def read_labels(model_dir: Path) -> tuple[list[SensitiveCategory], int, int]:
    """The categories in output order, the window length and the stride."""
    path = model_dir / LABELS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        categories = [parse_category(str(name)) for name in raw["categories"]]
        return categories, int(raw.get("max_length", 256)), int(raw.get("stride", 64))
    except UnknownCategoryError:
        raise
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a sensitive-category label map ({type(exc).__name__})") from None


def read_thresholds(model_dir: Path) -> dict[SensitiveCategory, float]:
    """Per-category thresholds from ``thresholds.json`` (``{"thresholds": {"hiv_sti": 0.31, ...}}``)."""
    path = model_dir / THRESHOLDS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))["thresholds"]
        thresholds = {parse_category(name): float(value) for name, value in raw.items()}
    except UnknownCategoryError:
        raise
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a thresholds file ({type(exc).__name__}); rebuild the model") from None
    if any(not 0.0 < value <= 1.0 for value in thresholds.values()):
        raise ConfigError(f"{path}: every threshold must be above 0 and at most 1")
    return thresholds


class OnnxNoteClassifier:
    """Multi-label note classification with an ONNX sequence-classification model (sigmoid per category)."""

    def __init__(
        self,
        model_dir: Path,
        *,
        provider: str = "auto",
        threads: int | None = None,
        thresholds: Mapping[SensitiveCategory, float] | None = None,
    ) -> None:
        tokenizer_path = model_dir / "tokenizer.json"
        if not tokenizer_path.exists():
            raise ConfigError(f"{model_dir}: tokenizer.json is missing")
        self.model_dir = model_dir
        self.name = f"classifier:{model_dir.name}"
        self.categories, self.max_length, self.stride = read_labels(model_dir)
        if thresholds is None:
            thresholds = read_thresholds(model_dir)
        missing = [c.value for c in self.categories if c not in thresholds]
        if missing:
            raise ConfigError(f"{model_dir}: no threshold for {', '.join(missing)}")
        self.thresholds: dict[SensitiveCategory, float] = {c: float(thresholds[c]) for c in self.categories}
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._prefix, self._suffix = special_tokens(self.tokenizer)
        self._body = self.max_length - len(self._prefix) - len(self._suffix)
        if self._body < 2 or not 0 <= self.stride < self._body:
            raise ConfigError(f"{model_dir}: max_length {self.max_length} and stride {self.stride} do not fit")
        self.model_path = find_model_file(model_dir)
        self.session, self.provider = create_session(self.model_path, provider, threads)
        self._inputs = {i.name: i for i in self.session.get_inputs()}
        self._output = self.session.get_outputs()[0].name
        width = self.session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(self.categories):
            raise ConfigError(f"{model_dir}: the model has {width} outputs, labels.json names {len(self.categories)}")

    def classify(self, text: str) -> dict[SensitiveCategory, float]:
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[dict[SensitiveCategory, float]]:
        """Per text, a score in [0, 1] per category: the highest over the text's windows (0 for empty text)."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        results = []
        for encoding in encodings:
            best = np.zeros(len(self.categories), dtype=np.float32)
            for start, end in window_bounds(len(encoding.ids), self._body, self.stride):
                best = np.maximum(best, self._run(self._prefix + encoding.ids[start:end] + self._suffix))
            results.append({c: round(float(s), 4) for c, s in zip(self.categories, best, strict=True)})
        return results

    def _run(self, ids: list[int]) -> np.ndarray:
        array = np.asarray([ids], dtype=np.int64)
        feeds = {"input_ids": array, "attention_mask": np.ones_like(array), "token_type_ids": np.zeros_like(array)}
        feeds = {
            name: value.astype(np.int32) if self._inputs[name].type == "tensor(int32)" else value
            for name, value in feeds.items()
            if name in self._inputs
        }
        logits = np.asarray(self.session.run([self._output], feeds)[0], dtype=np.float32)[0]
        return 1.0 / (1.0 + np.exp(-logits))

    def describe(self) -> str:
        """The folder, file and the first 12 hex digits of its SHA-256 (start-up log, ``phi_build_info``)."""
        digest = file_digest(self.model_path)[:12]
        return f"{self.model_dir.name}/{self.model_path.name}@sha256:{digest}"


class HeadClassifier:
    """The category head on a token classifier's encoder (:mod:`pipeline.runtime.category_head`): scores
    from the window features the encoder's detection run left in its memo, or from one run for them."""

    def __init__(self, encoder: OnnxTokenClassifier, head: CategoryHead) -> None:
        if encoder.features is None:
            encoder.enable_features(WindowFeatures())
        self.encoder = encoder
        self.head = head
        self.model_dir = encoder.model_dir
        self.name = f"head:{encoder.model_dir.name}"
        self.thresholds: dict[SensitiveCategory, float] = dict(head.thresholds)

    def classify(self, text: str) -> dict[SensitiveCategory, float]:
        return self.classify_batch([text])[0]

    def classify_batch(self, texts: Sequence[str]) -> list[dict[SensitiveCategory, float]]:
        """Per text, a score in [0, 1] per category: the highest over the text's windows (0 for empty text)."""
        return [self.head.scores(f) for f in self.encoder.window_features(texts)]

    def describe(self) -> str:
        return (
            f"category head on {self.model_dir.name}/{find_model_file(self.model_dir).name}@sha256:"
            + (self.head.trunk_sha256[:12])
        )


def _head_classifier(
    model_dir: Path, provider: str, threads: int | None, encoder: OnnxTokenClassifier | None
) -> HeadClassifier:
    """The head in ``model_dir`` on ``encoder`` when that is the same folder's model (one pass for both
    tasks), else on an encoder of its own; refuses a head trained on another model file."""
    head = CategoryHead(model_dir)
    digest = file_digest(find_model_file(model_dir))
    if digest != head.trunk_sha256:
        raise ConfigError(
            f"{model_dir}: the category head was trained on another model file (sha256 {head.trunk_sha256[:12]}, "
            f"the folder's is {digest[:12]}); rebuild it with 'phi-pipeline model build-category-head'"
        )
    if encoder is None or encoder.model_dir.resolve() != model_dir.resolve():
        encoder = OnnxTokenClassifier(model_dir, provider=provider, threads=threads)
    return HeadClassifier(encoder, head)


def build_classifier(
    model_dir: Path,
    provider: str = "auto",
    threads: int | None = None,
    evidence: bool = True,
    encoder: OnnxTokenClassifier | None = None,
) -> NoteClassifier:
    """The worker's classifier: the model's scores combined with each note's evidence
    (:class:`~pipeline.core.sensitive_evidence.EvidenceClassifier`), or the model alone with
    ``evidence=False`` (for comparisons). A folder with a category head shares ``encoder`` (the detector's
    model) when it is that folder's; a folder without one is a separate sequence classifier. A folder that is
    missing or cannot be loaded raises :class:`SensitiveModelError` (never a silent pass-through of sensitive
    notes)."""
    if not model_dir.is_dir():
        raise _refusal(model_dir, "folder does not exist")
    try:
        if has_head(model_dir):
            model: NoteClassifier = _head_classifier(model_dir, provider, threads, encoder)
        else:
            model = OnnxNoteClassifier(model_dir, provider=provider, threads=threads)
        return EvidenceClassifier(model) if evidence else model
    except ConfigError as exc:
        raise _refusal(model_dir, "cannot be loaded: " + str(exc).removeprefix(f"{model_dir}: ").rstrip(". ")) from None
    except Exception as exc:  # onnxruntime and tokenizers raise their own classes for unreadable files
        first_line = (str(exc).strip().splitlines() or [""])[0][:200]
        raise _refusal(model_dir, f"cannot be loaded ({type(exc).__name__}: {first_line})") from None
