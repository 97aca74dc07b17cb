"""Measuring the built model: int8 vs fp32 agreement, precision and recall per type, latency.

Quality is measured through the same code paths production uses: :func:`build_detector` (rules plus
model, merged by the ensemble) and the model alone (:class:`OnnxTokenClassifier`), scored by
:mod:`pipeline.modelbuild.evaluation` on the held-out synthetic split and on the presidio-research data, a
corpus in styles the generator never produced (that is where precision is honest). Presidio's own
analyzer runs beside them when ``presidio-analyzer`` and the offline spaCy package are installed.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from pipeline.core.spans import Span
from pipeline.modelbuild.evaluation import Document, Scores, score_corpus
from pipeline.modelbuild.features import Window

DetectBatch = Callable[[Sequence[str]], list[list[Span]]]


# -- int8 vs fp32 -----------------------------------------------------------------------------------


def token_labels(
    model_path: Path, windows: Sequence[Window], threads: int = 2, batch_size: int = 32
) -> list[np.ndarray]:
    """Arg-max class per real token (no [CLS]/[SEP]/padding) of every window, by the ONNX model itself."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    out: list[np.ndarray] = []
    for first in range(0, len(windows), batch_size):
        batch = windows[first : first + batch_size]
        width = max(len(w.input_ids) for w in batch)
        ids = np.zeros((len(batch), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, window in enumerate(batch):
            ids[row, : len(window.input_ids)] = window.input_ids
            mask[row, : len(window.input_ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        logits = session.run(None, {k: v for k, v in feeds.items() if k in names})[0]
        for row, window in enumerate(batch):
            out.append(logits[row, 1 : len(window.input_ids) - 1].argmax(-1))
    return out


def label_agreement(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray]) -> dict[str, float | int]:
    """Share of tokens with the same label, overall and on tokens either model calls PHI."""
    ref, cand = np.concatenate(list(reference)), np.concatenate(list(candidate))
    phi = (ref != 0) | (cand != 0)
    return {
        "tokens": int(ref.size),
        "agreement": round(float((ref == cand).mean()), 5),
        "phi_tokens": int(phi.sum()),
        "agreement_on_phi_tokens": round(float((ref[phi] == cand[phi]).mean()), 5) if phi.any() else 1.0,
    }


# -- quality ----------------------------------------------------------------------------------------


def run_detector(detect_batch: DetectBatch, docs: Sequence[Document], batch_size: int = 32) -> list[list[Span]]:
    predictions: list[list[Span]] = []
    for first in range(0, len(docs), batch_size):
        predictions.extend(detect_batch([d.text for d in docs[first : first + batch_size]]))
    return predictions


def per_type(scores: Scores) -> dict[str, dict[str, float | int]]:
    """Per type: overlap and strict precision/recall, gold and predicted counts (types with any count)."""
    rows: dict[str, dict[str, float | int]] = {}
    for key in scores.types():
        overlap = scores.overlap.get(key)
        strict = scores.strict.get(key)
        if overlap is None or (overlap.gold == 0 and overlap.pred == 0):
            continue
        rows[key] = {
            "gold": overlap.gold,
            "pred": overlap.pred,
            "precision": round(overlap.precision, 4),
            "recall": round(overlap.recall, 4),
            "f1": round(overlap.f1, 4),
            "strict_precision": round(strict.precision, 4) if strict else 0.0,
            "strict_recall": round(strict.recall, 4) if strict else 0.0,
        }
        token = scores.token.get(key)
        if token is not None:
            rows[key]["token_precision"] = round(token.precision, 4)
            rows[key]["token_recall"] = round(token.recall, 4)
    return rows


def quality(detect_batch: DetectBatch, docs: Sequence[Document]) -> dict[str, object]:
    started = time.perf_counter()
    scores = score_corpus(docs, run_detector(detect_batch, docs))
    return {
        "documents": len(docs),
        "seconds": round(time.perf_counter() - started, 1),
        "per_type": per_type(scores),
        "leak_free": {key: c.as_dict() for key, c in scores.leak_free.items()},
    }


# -- latency ----------------------------------------------------------------------------------------


def latency(detect_batch: DetectBatch, texts: Sequence[str], repeats: int = 40) -> dict[str, float]:
    """Median milliseconds for one note alone, and for a batch of 32 notes (and per note within it)."""
    detect_batch(list(texts[:4]))  # warm-up
    singles = []
    for text in list(texts)[:repeats]:
        started = time.perf_counter()
        detect_batch([text])
        singles.append((time.perf_counter() - started) * 1000)
    batches = []
    for first in range(0, min(len(texts), 32 * 4), 32):
        chunk = list(texts[first : first + 32])
        if len(chunk) < 32:
            break
        started = time.perf_counter()
        detect_batch(chunk)
        batches.append((time.perf_counter() - started) * 1000)
    batch_ms = statistics.median(batches) if batches else float("nan")
    return {
        "single_note_ms": round(statistics.median(singles), 2),
        "batch32_ms": round(batch_ms, 1),
        "batch32_per_note_ms": round(batch_ms / 32, 2),
        "mean_chars": round(sum(map(len, texts)) / max(1, len(texts))),
    }


# -- Presidio beside us -----------------------------------------------------------------------------
