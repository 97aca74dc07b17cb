"""Token pruning for the int8 detector's last encoder block: a probe on the block before it picks the tokens
the full model may call PHI, and the last block computes only those tokens' outputs.

Every token still feeds the last block's keys and values, so a kept token's output is the full model's
(up to the per-run int8 activation scales of the rows that follow attention, which now span only the kept
rows); a dropped token is scored "not PHI" (the runtime gives it probability 1 for ``O``). The probe is a
logistic regression on the block-before-last's output (the same tensor the category head pools), fitted on
the shipped model's OWN token decisions over the synthetic training corpus (never on real notes); its
threshold is set there for the recall :data:`TARGET_RECALL` of the tokens the model calls PHI. Within a
window a word is kept when any of its tokens scores over the threshold, and its neighbours on either side
are kept with it, so no word is split and span edges keep their context; the window's first and last
tokens (the special tokens, whose outlying activations set most of those int8 scales) are always kept.

Not shipped (issue 29, bench/README.md "Token pruning"): on the development half it kept 11% of the
tokens and cut the model's CPU per note by about 15%, but the narrower int8 scales moved 22 spans in 13
of the 1,094 notes, one of them a date the shipped model catches at a probability of 0.506, so leak-free
recall fell by one span; the runtime uses the pruned graph only where a folder ships one.

The pruned graph (``model_pruned.onnx`` beside the shipped model; built by
``python -m pipeline.modelbuild.token_pruning``) takes one more input, :data:`WORD_INDEX` (per token, its word
within the window; special tokens a word each), and gives :data:`KEPT` (the kept token positions) with the
logits of those tokens only. It has no ``encoder_states``: the runtime uses it only when the category head's
features are not asked for, and the shipped model file is left as it is.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from pipeline.core.errors import PipelineError
from pipeline.runtime.category_head import ENCODER_OUTPUT
from pipeline.runtime.token_pruning import KEPT, PRUNED_FILE, WORD_INDEX, window_words

SHIPPED_FILE = "model_quantized.onnx"
PROBE_FILE = "token_probe.json"
#: The block whose output the probe reads, and the one that then runs on the kept tokens only.
PROBE_BLOCK = 2
LAST_BLOCK = 3
#: Share of the model's PHI tokens (on the synthetic corpus) the probe must keep.
TARGET_RECALL = 1.0
#: A token the model gives at least this much PHI probability is one the probe must keep.
MIN_PHI_MASS = 0.05
_PREFIX = "/bert/encoder/layer"


class TokenPruningError(PipelineError, RuntimeError):
    """The graph does not have the layout the pruning expects, or the probe could not be fitted."""

    reason = "token-pruning"


@dataclass(frozen=True, slots=True)
class Probe:
    """A logistic regression over one block's token states, and the score a word must pass to be kept."""

    weight: np.ndarray  # (hidden,)
    bias: float
    threshold: float

    def scores(self, states: np.ndarray) -> np.ndarray:
        return states @ self.weight + self.bias


def _block_output(block: int) -> str:
    return f"{_PREFIX}.{block}/output/LayerNorm/LayerNormalization_output_0"


def fit_probe(states: np.ndarray, targets: np.ndarray, steps: int = 25, l2: float = 1e-3) -> tuple[np.ndarray, float]:
    """Logistic regression by Newton steps on standardized states (few features, many rows), with positives
    weighted up to half the mass; returns the weight and bias on the raw states."""
    mean, std = states.mean(axis=0), states.std(axis=0) + 1e-6
    x = np.hstack([(states - mean) / std, np.ones((states.shape[0], 1), dtype=np.float32)]).astype(np.float64)
    y = targets.astype(np.float64)
    pos = max(y.sum(), 1.0)
    sample = np.where(y > 0, 0.5 * len(y) / pos, 0.5 * len(y) / max(len(y) - pos, 1.0))
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-np.clip(x @ w, -30, 30)))
        grad = x.T @ (sample * (p - y)) / len(y) + l2 * w
        hess = (x * (sample * p * (1 - p))[:, None]).T @ x / len(y) + l2 * np.eye(x.shape[1])
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-6:
            break
    weight = w[:-1] / std
    bias = float(w[-1] - (mean / std) @ w[:-1])
    return weight.astype(np.float32), bias


def word_keep(scores: np.ndarray, words: np.ndarray, threshold: float) -> np.ndarray:
    """Per token, whether it is kept: its word or a neighbouring word has a token scoring over
    ``threshold`` (``words``: per token, its word index 0..; the same rule the pruned graph computes)."""
    best = np.full(len(words), -np.inf, dtype=np.float64)
    np.maximum.at(best, words, scores)
    padded = np.concatenate([[-np.inf], best, [-np.inf]])
    dilated = np.maximum(np.maximum(padded[:-2], padded[1:-1]), padded[2:])
    return dilated[words] > threshold


# -- the graph ----------------------------------------------------------------------------------------


def _node_by_output(graph: onnx.GraphProto, name: str) -> onnx.NodeProto:
    for node in graph.node:
        if name in node.output:
            return node
    raise TokenPruningError(f"no node writes {name!r}: the graph is not the detector layout this pruning expects")


def prune_graph(model: onnx.ModelProto, probe: Probe) -> onnx.ModelProto:
    """The shipped graph with the probe and the kept-token gather added before the last block, its query,
    output and feed-forward then computed on the kept tokens only; outputs ``logits`` (kept tokens) and
    :data:`KEPT`."""
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    hidden = _block_output(PROBE_BLOCK)
    quantized = hidden + "_quantized"
    last = f"{_PREFIX}.{LAST_BLOCK}"
    query = _node_by_output(graph, f"{last}/attention/self/query/MatMul_output_0_output_quantized")
    residual = _node_by_output(graph, f"{last}/attention/output/Add_output_0")
    if query.op_type != "MatMulInteger" or query.input[0] != quantized or hidden not in residual.input:
        raise TokenPruningError("the last block's query or residual does not read the block before it")
    names = {n.name for n in graph.node}
    if "token_pruning/keep" in names:
        raise TokenPruningError("the graph is already pruned")
    w = numpy_helper.from_array(probe.weight.reshape(-1, 1).astype(np.float32), "token_pruning/probe_weight")
    consts = {
        "token_pruning/probe_bias": np.array([probe.bias], dtype=np.float32),
        "token_pruning/threshold": np.array(probe.threshold, dtype=np.float32),
        "token_pruning/flat": np.array([-1], dtype=np.int64),
        "token_pruning/row": np.array([1, 1, -1], dtype=np.int64),
        "token_pruning/floor": np.array([-1e9], dtype=np.float32),
        "token_pruning/zero": np.array(0, dtype=np.int64),
        "token_pruning/one": np.array(1, dtype=np.int64),
    }
    graph.initializer.extend([w, *(numpy_helper.from_array(v, k) for k, v in consts.items())])
    graph.input.append(helper.make_tensor_value_info(WORD_INDEX, TensorProto.INT64, ["batch_size", "sequence_length"]))
    p = "token_pruning/"
    added = [
        helper.make_node("MatMul", [hidden, p + "probe_weight"], [p + "logit"], name=p + "probe"),
        helper.make_node("Add", [p + "logit", p + "probe_bias"], [p + "score3"], name=p + "bias"),
        helper.make_node("Reshape", [p + "score3", p + "flat"], [p + "score"], name=p + "score_flat"),
        helper.make_node("Reshape", [WORD_INDEX, p + "flat"], [p + "words"], name=p + "words_flat"),
        helper.make_node("Shape", [p + "score"], [p + "n"], name=p + "n"),
        helper.make_node("Squeeze", [p + "n"], [p + "n_scalar"], name=p + "n_scalar"),
        helper.make_node("Expand", [p + "floor", p + "n"], [p + "empty"], name=p + "empty"),
        helper.make_node(
            "ScatterElements",
            [p + "empty", p + "words", p + "score"],
            [p + "word_best"],
            name=p + "word_best",
            axis=0,
            reduction="max",
        ),
        helper.make_node("Reshape", [p + "word_best", p + "row"], [p + "word_row"], name=p + "word_row"),
        helper.make_node(
            "MaxPool", [p + "word_row"], [p + "word_near"], name=p + "dilate", kernel_shape=[3], pads=[1, 1]
        ),
        helper.make_node("Reshape", [p + "word_near", p + "flat"], [p + "near"], name=p + "near_flat"),
        helper.make_node("Gather", [p + "near", p + "words"], [p + "token_best"], name=p + "token_best", axis=0),
        helper.make_node("Greater", [p + "token_best", p + "threshold"], [p + "probe_keep"], name=p + "keep"),
        # The window's first and last tokens (the special tokens) are always kept: their outlying activations
        # set the per-run int8 scales of the rows after attention, as they do in the full graph.
        helper.make_node("Range", [p + "zero", p + "n_scalar", p + "one"], [p + "positions"], name=p + "positions"),
        helper.make_node("Sub", [p + "n_scalar", p + "one"], [p + "last"], name=p + "last"),
        helper.make_node("Equal", [p + "positions", p + "zero"], [p + "is_first"], name=p + "is_first"),
        helper.make_node("Equal", [p + "positions", p + "last"], [p + "is_last"], name=p + "is_last"),
        helper.make_node("Or", [p + "is_first", p + "is_last"], [p + "is_end"], name=p + "is_end"),
        helper.make_node("Or", [p + "probe_keep", p + "is_end"], [p + "keep_mask"], name=p + "keep_mask"),
        helper.make_node("NonZero", [p + "keep_mask"], [p + "kept2"], name=p + "nonzero"),
        helper.make_node("Reshape", [p + "kept2", p + "flat"], [KEPT], name=p + "kept"),
        helper.make_node("Gather", [quantized, KEPT], [p + "quantized_kept"], name=p + "gather_quantized", axis=1),
        helper.make_node("Gather", [hidden, KEPT], [p + "hidden_kept"], name=p + "gather_hidden", axis=1),
    ]
    query.input[0] = p + "quantized_kept"
    residual.input[list(residual.input).index(hidden)] = p + "hidden_kept"
    # Topological order: the added nodes right after the probe block's quantization.
    quantizer = _node_by_output(graph, quantized)
    nodes = list(graph.node)
    at = nodes.index(quantizer) + 1
    nodes[at:at] = added
    kept_nodes = [n for n in nodes if "encoder_states" not in n.output]
    del graph.node[:]
    graph.node.extend(kept_nodes)
    # The shapes recorded for the full graph would say the last block's rows are the window's tokens.
    del graph.value_info[:]
    labels = graph.output[0].type.tensor_type.shape.dim[2].dim_value
    del graph.output[:]
    graph.output.extend(
        [
            helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch_size", "kept", labels]),
            helper.make_tensor_value_info(KEPT, TensorProto.INT64, ["kept"]),
        ]
    )
    onnx.checker.check_model(model)
    return model


# -- fitting ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Samples:
    """Per token of every window: the probe block's state, whether the model's own decision there is PHI,
    and its word within the window; ``bounds`` the (start, end) rows of each window."""

    states: np.ndarray
    targets: np.ndarray
    words: np.ndarray
    bounds: list[tuple[int, int]]

    def keep(self, scores: np.ndarray, threshold: float) -> np.ndarray:
        """Per token, whether the pruned graph would keep it at ``threshold``."""
        return np.concatenate([word_keep(scores[a:b], self.words[a:b], threshold) for a, b in self.bounds])


def collect(model_dir: Path, texts: list[str]) -> Samples:
    """Every window of ``texts`` through the shipped model: per token, the probe block's state and the
    target: its word's type probabilities (within the window) won by a PHI type, or the token itself given
    :data:`MIN_PHI_MASS` or more PHI probability (windows overlap and are averaged, and the per-run int8
    scales move a borderline token a little)."""
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier, window_bounds

    clf = OnnxTokenClassifier(model_dir, provider="cpu", threads=1, token_pruning=False)
    before, after = [-1] * len(clf._prefix), [-1] * len(clf._suffix)
    states, targets, words, bounds = [], [], [], []
    rows = 0
    encodings = clf.tokenizer.encode_batch(texts, add_special_tokens=False)
    for enc, word_ids in zip(encodings, clf._word_ids(encodings), strict=True):
        for start, end in window_bounds(len(enc.ids), clf._body, clf.stride):
            ids = np.array([clf._prefix + enc.ids[start:end] + clf._suffix], dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
            logits, encoded = clf.session.run(["logits", ENCODER_OUTPUT], feeds)
            hidden = encoded.shape[2] // (LAST_BLOCK + 1)
            shifted = np.exp(logits[0] - logits[0].max(axis=-1, keepdims=True))
            probs = shifted / shifted.sum(axis=-1, keepdims=True)
            window = window_words(np.array(before + word_ids[start:end].tolist() + after, dtype=np.int64))
            sums = np.zeros((window.max() + 1, probs.shape[1]))
            np.add.at(sums, window, probs)
            phi_word = (sums @ clf._type_matrix).argmax(axis=1) > 0
            states.append(encoded[0, :, PROBE_BLOCK * hidden : (PROBE_BLOCK + 1) * hidden].astype(np.float32))
            targets.append(phi_word[window] | (probs[:, 0] < 1.0 - MIN_PHI_MASS))
            words.append(window)
            bounds.append((rows, rows + len(window)))
            rows += len(window)
    return Samples(np.concatenate(states), np.concatenate(targets), np.concatenate(words), bounds)


def build(model_dir: Path, texts: list[str], recall: float = TARGET_RECALL) -> dict[str, float | int]:
    """Fit the probe on the first half of ``texts``' windows, set its threshold on the second half (the
    lowest score that keeps ``recall`` of the PHI tokens there), and write the pruned graph and
    :data:`PROBE_FILE` into ``model_dir``; returns what was written to the latter."""
    samples = collect(model_dir, texts)
    half = samples.bounds[len(samples.bounds) // 2][0]
    weight, bias = fit_probe(samples.states[:half], samples.targets[:half])
    scores = samples.states @ weight + bias
    held_bounds = [(a - half, b - half) for a, b in samples.bounds[len(samples.bounds) // 2 :]]
    held = Samples(samples.states[half:], samples.targets[half:], samples.words[half:], held_bounds)
    held_scores = scores[half:]
    threshold = float(np.quantile(held_scores[held.targets], 1.0 - recall))
    kept = held.keep(held_scores, threshold)
    pruned = prune_graph(onnx.load(str(model_dir / SHIPPED_FILE)), Probe(weight, bias, threshold))
    onnx.save(pruned, str(model_dir / PRUNED_FILE))
    record: dict[str, float | int] = {
        "probe_block": PROBE_BLOCK,
        "threshold": round(threshold, 4),
        "target_recall": recall,
        "held_out_recall": round(float(kept[held.targets].mean()), 5),
        "held_out_keep_rate": round(float(kept.mean()), 4),
        "held_out_phi_share": round(float(held.targets.mean()), 4),
        "notes": len(texts),
        "windows": len(samples.bounds),
    }
    (model_dir / PROBE_FILE).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return record


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/detector"), help="detector folder")
    parser.add_argument("--corpus", type=Path, required=True, help="synthetic notes (model corpus --split train)")
    parser.add_argument("--notes", type=int, default=2000, help="notes to read from --corpus (default 2000)")
    parser.add_argument("--recall", type=float, default=TARGET_RECALL, help="share of PHI tokens kept")
    args = parser.parse_args()
    lines = args.corpus.read_text(encoding="utf-8").splitlines()[: args.notes]
    started = time.process_time()
    record = build(args.model, [json.loads(line)["text"] for line in lines], args.recall)
    print(json.dumps(record), f"({time.process_time() - started:.0f} s CPU)")
    print(f"written {args.model / PRUNED_FILE} and {args.model / PROBE_FILE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
