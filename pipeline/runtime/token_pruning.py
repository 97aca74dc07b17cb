"""The detector's pruned graph on the CPU: the last encoder block computes only the tokens a probe keeps.

``model_pruned.onnx`` (built beside the shipped model by ``python -m pipeline.modelbuild.token_pruning``)
is the shipped int8 graph with a probe after the block before last: per window it keeps the words (and
their neighbours) that may be PHI, and the last block's query, attention output and feed-forward run on
those tokens only (every token still gives its keys and values). It takes the window's word index per token
as one more input and returns the kept positions with their logits; every other token is "not PHI".

It is used for one unpadded window at a time on the CPU, and only when the category head's features are not
asked for (it has no ``encoder_states``: those need every token's last-block output).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from pipeline.runtime.providers import create_session

PRUNED_FILE = "model_pruned.onnx"
WORD_INDEX = "word_index"
KEPT = "kept_tokens"


def word_starts(word_ids: np.ndarray) -> np.ndarray:
    """Per token, whether a word starts there: wherever the tokenizer's word id changes, and at every token
    without one (``-1``: special tokens), which is a word of its own. The decoder's words and the pruned
    graph's word index both read words this way, so the probe keeps the words the decoder joins."""
    starts = np.ones(word_ids.size, dtype=bool)
    starts[1:] = (word_ids[1:] != word_ids[:-1]) | (word_ids[1:] < 0)
    return starts


def window_words(word_ids: np.ndarray) -> np.ndarray:
    """Per token of a window, its word counted from 0 (see :func:`word_starts`)."""
    return np.cumsum(word_starts(word_ids), dtype=np.int64) - 1


class PrunedRunner:
    """The pruned graph's session: one window's logits, with ``outside`` (the "not PHI" tag's index) winning
    on every token the probe dropped."""

    def __init__(self, model_dir: Path, threads: int | None, outside: int) -> None:
        self.session: ort.InferenceSession = create_session(model_dir / PRUNED_FILE, "cpu", threads)[0]
        self.outside = outside

    def logits(self, feeds: dict[str, np.ndarray], word_ids: np.ndarray, labels: int) -> np.ndarray:
        """Logits (1, tokens, labels) of one window: the model's on the kept tokens, 0 everywhere but a
        large ``outside`` logit on the rest (probability 1 for "not PHI" after the softmax)."""
        words = window_words(word_ids)[None, :]
        kept_logits, kept = self.session.run(None, {**feeds, WORD_INDEX: words})
        out = np.zeros((1, word_ids.size, labels), dtype=np.float32)
        out[0, :, self.outside] = 100.0
        out[0, kept] = kept_logits[0]
        return out


def has_pruned(model_dir: Path) -> bool:
    """Whether the folder ships the pruned graph."""
    return (model_dir / PRUNED_FILE).exists()
