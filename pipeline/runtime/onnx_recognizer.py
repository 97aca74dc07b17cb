"""A token-classification ONNX model as a PHI detector: tokenize, window, batch, run, decode to spans.

Works with any encoder exported for token classification whose directory holds ``model.onnx`` (or
``model_quantized.onnx``, preferred), ``tokenizer.json`` and ``labels.json``. Long texts are cut into
overlapping windows of sub-word tokens; probabilities of tokens seen by several windows are averaged.
A window's output never depends on the other windows of the call: on the CPU each window runs alone and
unpadded (the shipped int8 model computes activation scales per run, so a shared batch would let one note's
tokens move another's scales; batching buys little on a CPU anyway), and on a GPU windows are batched with
every one padded to the full window length. Sub-word predictions are
averaged per word (the tokenizer's pre-tokenized words), then words are joined into spans by BIO (or
IO) tags, and spans carry character offsets into the original text.

With a category head beside the model (:mod:`pipeline.runtime.category_head`), :meth:`OnnxTokenClassifier.
enable_features` asks the same run for the encoder's block outputs too and keeps each window's pooled
features per text, so the sensitive-category head reads them instead of running a second encoder; the token
probabilities, and so the spans, are those of the run without it.

A folder that also holds ``model_pruned.onnx`` (:mod:`pipeline.runtime.token_pruning`; the shipped folder does
not) has its CPU runs without features go through that graph, whose last block computes only the tokens a
probe keeps; its spans then differ slightly from the full graph's (its int8 scales span the kept rows only),
so with it the spans no longer match those of a run with features enabled.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Encoding, Tokenizer

from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.runtime.category_head import ENCODER_OUTPUT, WindowFeatures, pool
from pipeline.runtime.labelmap import load_label_map
from pipeline.runtime.providers import CPU, GPU_PROVIDERS, create_session
from pipeline.runtime.token_pruning import PrunedRunner, has_pruned, word_starts

MODEL_FILES = ("model_quantized.onnx", "model.onnx")


@dataclass(frozen=True, slots=True)
class _Window:
    text_index: int
    start: int  # token index into the text's encoding
    end: int


def _word_id_array(enc: Encoding) -> np.ndarray:
    """The word id of each token of an encoding (-1 for none)."""
    word_ids = enc.word_ids  # a fresh list on every access: read it once
    if None not in word_ids:  # the usual case (no special tokens): one conversion in C
        return np.array(word_ids, dtype=np.int64).reshape(-1)
    return np.fromiter((-1 if w is None else w for w in word_ids), dtype=np.int64, count=len(word_ids))


@dataclass(frozen=True, slots=True)
class _ColumnSums:
    """How to compute ``values @ matrix`` for a 0/1 matrix whose every column has at most two ones without
    the matrix product (see :func:`column_sums`)."""

    first: np.ndarray  # per column, the row of its first 1 (0 where it has none)
    empty: np.ndarray  # the columns without a 1
    second: np.ndarray  # the columns with two 1s
    second_rows: np.ndarray  # and the row of their second 1

    @staticmethod
    def of(matrix: np.ndarray) -> _ColumnSums | None:
        """The plan for ``matrix``; None where some column has more than two ones."""
        rows = [np.flatnonzero(matrix[:, column]) for column in range(matrix.shape[1])]
        if any(r.size > 2 for r in rows):
            return None
        two = [column for column, r in enumerate(rows) if r.size == 2]
        return _ColumnSums(
            np.array([r[0] if r.size else 0 for r in rows], dtype=np.int64),
            np.array([column for column, r in enumerate(rows) if not r.size], dtype=np.int64),
            np.array(two, dtype=np.int64),
            np.array([rows[column][1] for column in two], dtype=np.int64),
        )


def column_sums(values: np.ndarray, matrix: np.ndarray, plan: _ColumnSums | None) -> np.ndarray:
    """``values @ matrix`` (values non-negative, matrix 0/1). With a plan, a column of one 1 is that value
    and one of two the sum of both: the product adds the same one or two values and exact zeros, so this is
    the same float, bit for bit, without the product (whose BLAS starts threads that spin on small inputs)."""
    if plan is None:
        return values @ matrix
    out = values[:, plan.first]
    out[:, plan.empty] = 0.0
    out[:, plan.second] += values[:, plan.second_rows]
    return out


def find_model_file(model_dir: Path) -> Path:
    """The quantized model when present (the worker's default), else the full-precision one."""
    for name in MODEL_FILES:
        if (model_dir / name).exists():
            return model_dir / name
    raise ConfigError(f"{model_dir}: no {' or '.join(MODEL_FILES)} found; build or copy the model there")


def special_tokens(tokenizer: Tokenizer) -> tuple[list[int], list[int]]:
    """Ids the post-processor puts before and after a sequence ([CLS] / [SEP], <s> / </s>, or none)."""
    probe = tokenizer.encode("a", add_special_tokens=True)
    mask = probe.special_tokens_mask
    normal = [i for i, m in enumerate(mask) if not m]
    if not normal:
        return [], []
    return list(probe.ids[: normal[0]]), list(probe.ids[normal[-1] + 1 :])


def window_bounds(n_tokens: int, body: int, stride: int) -> list[tuple[int, int]]:
    """(start, end) token ranges of at most ``body`` tokens covering ``n_tokens``, each overlapping the
    one before by ``stride`` tokens; none for an empty text."""
    if n_tokens == 0:
        return []
    bounds = []
    start = 0
    while True:
        end = min(start + body, n_tokens)
        bounds.append((start, end))
        if end >= n_tokens:
            return bounds
        start += body - stride


class OnnxTokenClassifier:
    """A :class:`~pipeline.core.detection.base.TextDetector` backed by an ONNX token classifier.

    ``provider`` ('auto', 'cpu', 'cuda', 'tensorrt') is resolved once; the one in use is ``self.provider``.
    """

    def __init__(
        self,
        model_dir: Path,
        *,
        provider: str = "auto",
        threads: int | None = None,
        batch_size: int = 16,
        max_length: int | None = None,
        stride: int | None = None,
        aggregation: str = "average",
        token_pruning: bool = True,
    ) -> None:
        if aggregation not in ("average", "first"):
            raise ConfigError(f"aggregation must be 'average' or 'first', got {aggregation!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, got {batch_size}")
        tokenizer_path = model_dir / "tokenizer.json"
        if not tokenizer_path.exists():
            raise ConfigError(f"{model_dir}: tokenizer.json is missing (a Hugging Face fast tokenizer file)")
        self.model_dir = model_dir
        self.name = f"model:{model_dir.name}"
        self.tags, settings = load_label_map(model_dir)
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.no_truncation()
        self.tokenizer.no_padding()
        self._prefix, self._suffix = self._special_tokens()
        self.max_length = int(max_length or settings.get("max_length", 512))  # type: ignore[arg-type]
        body = self.max_length - len(self._prefix) - len(self._suffix)
        if body < 2:
            raise ConfigError(f"max_length {self.max_length} leaves no room for text between special tokens")
        self.stride = int(stride if stride is not None else settings.get("stride", body // 4))  # type: ignore[arg-type]
        if not 0 <= self.stride < body:
            raise ConfigError(f"stride must be in [0, {body}) for max_length {self.max_length}")
        self._body = body
        self.batch_size = batch_size
        self.aggregation = aggregation
        self.pad_id = int(settings.get("pad_id", self.tokenizer.token_to_id("[PAD]") or 0))  # type: ignore[arg-type]
        self.session, self.provider = create_session(find_model_file(model_dir), provider, threads)
        self._inputs = {i.name: i for i in self.session.get_inputs()}
        if "input_ids" not in self._inputs:
            raise ConfigError(f"{model_dir}: the model has no 'input_ids' input (has {', '.join(self._inputs)})")
        self._output = self.session.get_outputs()[0].name
        self._outputs = [self._output]
        self.features: WindowFeatures | None = None
        self._use_binding = self.provider in GPU_PROVIDERS
        self._build_type_matrix()
        # The pruned graph beside the model (pipeline.runtime.token_pruning), for CPU runs without features.
        self._pruned: PrunedRunner | None = None
        if token_pruning and self.provider == CPU and has_pruned(model_dir):
            outside = next(i for i, tag in enumerate(self.tags) if tag.type is None)
            self._pruned = PrunedRunner(model_dir, threads, outside)

    def enable_features(self, memo: WindowFeatures) -> None:
        """From now on every run also pools the encoder's block outputs per window into ``memo``."""
        names = [o.name for o in self.session.get_outputs()]
        if ENCODER_OUTPUT not in names:
            raise ConfigError(
                f"{self.model_dir}: the model has no {ENCODER_OUTPUT!r} output (has {', '.join(names)}); add it with "
                "'phi-pipeline model build-category-head'"
            )
        self.features = memo
        self._outputs = [self._output, ENCODER_OUTPUT]

    # -- public --------------------------------------------------------------------------------

    def detect(self, text: str) -> list[Span]:
        return self.detect_batch([text])[0]

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]:
        encodings, probs, _ = self._forward(texts)
        return [self._decode(text, enc, p) for text, enc, p in zip(texts, encodings, probs, strict=True)]

    def window_features(self, texts: Sequence[str]) -> list[np.ndarray]:
        """Per text, the pooled features of its windows (rows), from the memo or from a run of the encoder
        (whose features go to the memo too). Needs :meth:`enable_features`."""
        if self.features is None:
            raise ConfigError(f"{self.model_dir}: window features were not enabled on this model")
        memo = self.features
        found = [memo.get(text) for text in texts]
        missing = list(dict.fromkeys(texts[i] for i, f in enumerate(found) if f is None))
        if missing:
            fresh = dict(zip(missing, self._forward(missing)[2], strict=True))
            found = [fresh[text] if f is None else f for text, f in zip(texts, found, strict=True)]
        return found  # type: ignore[return-value]

    def _forward(self, texts: Sequence[str]) -> tuple[list[Encoding], list[np.ndarray], list[np.ndarray]]:
        """Every window of every text through the model: the encodings, each text's token probabilities
        (averaged where windows overlap) and, with features enabled, each text's pooled windows (also kept
        in the memo; empty otherwise)."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        lengths = [len(enc) for enc in encodings]
        windows = [w for i, n in enumerate(lengths) for w in self._windows(i, n)]
        per_text = [0] * len(encodings)
        for window in windows:
            per_text[window.text_index] += 1
        # A text of one window takes that window's probabilities as they are (what the sum over its windows
        # divided by their count is then, bit for bit); only texts of several windows keep sums and counts.
        labels = len(self.tags)
        probs = [np.zeros((n if per_text[i] != 1 else 0, labels), dtype=np.float32) for i, n in enumerate(lengths)]
        counts = {i: np.zeros((n, 1), dtype=np.float32) for i, n in enumerate(lengths) if per_text[i] > 1}
        pooled: list[list[np.ndarray]] = [[] for _ in encodings]
        windows.sort(key=lambda w: w.end - w.start)
        per_run = self.batch_size if self._use_binding else 1
        offset = len(self._prefix)
        token_ids = [np.array(enc.ids, dtype=np.int64) for enc in encodings]
        words = self._word_ids(encodings) if self._pruned is not None and self.features is None else None
        for first in range(0, len(windows), per_run):
            batch = windows[first : first + per_run]
            run_probs, hidden = self._run(batch, token_ids, words)
            for row, window in enumerate(batch):
                length = window.end - window.start
                text = window.text_index
                if text in counts:
                    probs[text][window.start : window.end] += run_probs[row, offset : offset + length]
                    counts[text][window.start : window.end] += 1.0
                else:
                    probs[text] = run_probs[row, offset : offset + length]
                if hidden is not None:
                    pooled[text].append(pool(hidden[row, offset : offset + length]))
        for text, count in counts.items():
            probs[text] = probs[text] / np.maximum(count, 1.0)
        features = [np.stack(rows) if rows else np.zeros((0, 0), dtype=np.float32) for rows in pooled]
        if self.features is not None:
            for text, rows in zip(texts, features, strict=True):
                self.features.put(text, rows)
        return encodings, probs, features

    # -- preparation ----------------------------------------------------------------------------

    def _special_tokens(self) -> tuple[list[int], list[int]]:
        return special_tokens(self.tokenizer)

    def _build_type_matrix(self) -> None:
        types = sorted({t.type for t in self.tags if t.type is not None}, key=lambda t: t.value)
        self._types: list[PhiType] = types
        column = {t: i + 1 for i, t in enumerate(types)}
        matrix = np.zeros((len(self.tags), len(types) + 1), dtype=np.float32)
        begin = np.zeros((len(self.tags), len(types) + 1), dtype=np.float32)
        for index, tag in enumerate(self.tags):
            col = 0 if tag.type is None else column[tag.type]
            matrix[index, col] = 1.0
            if tag.prefix == "B":
                begin[index, col] = 1.0
        self._type_matrix = matrix
        self._begin_matrix = begin
        self._type_columns = _ColumnSums.of(matrix)
        self._begin_columns = _ColumnSums.of(begin)

    @staticmethod
    def _word_ids(encodings: list[Encoding]) -> list[np.ndarray]:
        """Per text, the word id of each token (-1 for none)."""
        return [_word_id_array(enc) for enc in encodings]

    def _windows(self, text_index: int, n_tokens: int) -> list[_Window]:
        return [_Window(text_index, start, end) for start, end in window_bounds(n_tokens, self._body, self.stride)]

    # -- inference ------------------------------------------------------------------------------

    def _run(
        self, batch: list[_Window], token_ids: list[np.ndarray], words: list[np.ndarray] | None = None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The token probabilities (windows, width, labels) of a batch of windows, and the encoder states
        when features are enabled; ``token_ids`` holds each text's token ids."""
        # Batched (GPU): every window padded to the full window length, so its shapes and sums are the same
        # whatever its neighbours. Alone (CPU): no padding at all.
        before, after = len(self._prefix), len(self._suffix)
        width = self.max_length if len(batch) > 1 else batch[0].end - batch[0].start + before + after
        ids = np.full((len(batch), width), self.pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), width), dtype=np.int64)
        for row, window in enumerate(batch):
            end = before + window.end - window.start
            ids[row, :before] = self._prefix
            ids[row, before:end] = token_ids[window.text_index][window.start : window.end]
            ids[row, end : end + after] = self._suffix
            mask[row, : end + after] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {name: self._cast(name, value) for name, value in feeds.items() if name in self._inputs}
        if words is not None and self._pruned is not None and len(batch) == 1:
            window = batch[0]
            body = words[window.text_index][window.start : window.end]
            word_ids = np.concatenate([[-1] * len(self._prefix), body, [-1] * len(self._suffix)]).astype(np.int64)
            logits, hidden = self._pruned.logits(feeds, word_ids, len(self.tags)), []
        else:
            logits, *hidden = self._infer(feeds)
        # The softmax, in one buffer (the same operations as three fresh arrays, so the same values).
        probs = logits - logits.max(axis=-1, keepdims=True)
        np.exp(probs, out=probs)
        probs /= probs.sum(axis=-1, keepdims=True)
        return probs, (hidden[0] if hidden else None)

    def _cast(self, name: str, value: np.ndarray) -> np.ndarray:
        return value.astype(np.int32) if self._inputs[name].type == "tensor(int32)" else value

    def _infer(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        """The logits, then the encoder states when features are enabled."""
        if not self._use_binding:
            return [np.asarray(out, dtype=np.float32) for out in self.session.run(self._outputs, feeds)]
        # On CUDA/TensorRT: copy inputs to the device once and keep the outputs there until the end.
        binding = self.session.io_binding()
        for name, value in feeds.items():
            binding.bind_ortvalue_input(name, ort.OrtValue.ortvalue_from_numpy(value, "cuda", 0))
        for name in self._outputs:
            binding.bind_output(name, "cuda", 0)
        self.session.run_with_iobinding(binding)
        return [np.asarray(out, dtype=np.float32) for out in binding.copy_outputs_to_cpu()]

    # -- decoding -------------------------------------------------------------------------------

    def _decode(self, text: str, enc: Encoding, probs: np.ndarray) -> list[Span]:
        if probs.shape[0] == 0:
            return []
        firsts, lasts = self._words(enc)
        if self.aggregation == "average":
            sizes = (lasts - firsts + 1).astype(np.float32)
            word_probs = np.add.reduceat(probs, firsts, axis=0) / sizes[:, None]
        else:
            word_probs = probs[firsts]
        # All words at once: probability per PHI type (column 0 is "not PHI"), the winner, and whether the
        # winner's B- share says a new span starts here.
        by_type = column_sums(word_probs, self._type_matrix, self._type_columns)
        best = by_type.argmax(axis=1)
        phi_words = np.flatnonzero(best)
        if not phi_words.size:
            return []
        best_score = by_type[phi_words, best[phi_words]]
        begins = column_sums(word_probs[phi_words], self._begin_matrix, self._begin_columns)[
            np.arange(phi_words.size), best[phi_words]
        ] > (best_score / 2)
        offsets = enc.offsets  # a fresh list on every access: read it once
        starts = [offsets[i][0] for i in firsts[phi_words].tolist()]
        ends = [offsets[i][1] for i in lasts[phi_words].tolist()]
        spans: list[Span] = []
        current: list[tuple[int, int, float]] = []
        current_type: PhiType | None = None
        previous = -2
        # Only the words some PHI type won are visited; a gap between two of them (a word won by "not PHI")
        # closes the span, as does a change of type or a B- share that says a new span starts.
        for row, (index, column) in enumerate(zip(phi_words.tolist(), best[phi_words].tolist(), strict=True)):
            phi_type = self._types[column - 1]
            if index != previous + 1 or phi_type is not current_type or bool(begins[row]):
                self._close(text, current, current_type, spans)
                current, current_type = [], phi_type
            current.append((starts[row], ends[row], float(best_score[row])))
            previous = index
        self._close(text, current, current_type, spans)
        return spans

    @staticmethod
    def _words(enc: Encoding) -> tuple[np.ndarray, np.ndarray]:
        """The first and last token index of each word (each token its own word where word ids are absent).

        A word is a run of tokens with the same word id; a token without one is a word of its own.
        """
        ids = _word_id_array(enc)
        firsts = np.flatnonzero(word_starts(ids))
        lasts = np.append(firsts[1:], ids.size) - 1
        return firsts, lasts

    def _close(self, text: str, words: list[tuple[int, int, float]], phi_type: PhiType | None, out: list[Span]) -> None:
        if not words or phi_type is None:
            return
        start, end = words[0][0], words[-1][1]
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end <= start:
            return
        score = round(sum(w[2] for w in words) / len(words), 4)
        out.append(Span(start, end, phi_type, score, self.name, ("model", f"label:{phi_type.value}")))
