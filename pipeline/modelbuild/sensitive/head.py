"""``phi-pipeline model build-category-head``: the sensitive-category head on the detector's own encoder.

Three steps, each re-runnable on any detector folder (a re-quantized or re-optimized detector included):

1. :func:`add_encoder_output`: the detector graph gets one more output
   (:data:`~pipeline.runtime.category_head.ENCODER_OUTPUT`): the outputs of its last :data:`BLOCKS`
   transformer blocks, concatenated, found generically: from the logits up through the token-classification
   head to the nearest layer normalization (the encoder's last hidden states), then up the residual path.
   No existing node changes, so the token logits (and the spans) are those of the graph without it.
2. :func:`extract`: the frozen trunk's pooled window features of the synthetic labelled corpus
   (:mod:`pipeline.modelbuild.sensitive.corpus`, the generator the separate classifier was trained on, hard
   negatives included), computed by the runtime's own code on the int8 graph the worker runs.
3. :func:`train_head`: a two-layer perceptron (sigmoid per category) on the training split's features;
   thresholds chosen for recall on the development split as :func:`~pipeline.modelbuild.sensitive.build.
   choose_thresholds` does for the separate classifier; precision and recall measured on the test split and
   the hand-written set (never trained or tuned on). The weights go to ``category_head.npz``, the settings,
   thresholds, trunk digest and figures to ``category_head.json``, beside the detector.

Needs ``onnx`` (step 1) and ``torch`` (step 3), the ``models`` extra; the worker needs neither.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import ConfigError
from pipeline.modelbuild.corpus import Split
from pipeline.modelbuild.sensitive.build import (
    BETA,
    HANDWRITTEN,
    TEST_START,
    THRESHOLD_CAP,
    choose_thresholds,
    table,
)
from pipeline.modelbuild.sensitive.corpus import CATEGORIES, generate, read_jsonl
from pipeline.runtime.category_head import (
    ENCODER_OUTPUT,
    HEAD_CONFIG,
    HEAD_WEIGHTS,
    POOLING,
    file_digest,
    probabilities,
)

#: Ops that make up a token-classification head (float, or dynamically quantized), walked through from the
#: logits up to the hidden states.
_HEAD_OPS = {"Add", "MatMul", "Gemm", "MatMulInteger", "Cast", "Mul", "DynamicQuantizeLinear", "QuantizeLinear",
             "DequantizeLinear", "Identity", "Dropout"}  # fmt: skip
_NORM_OPS = {"LayerNormalization", "SkipLayerNormalization", "SimplifiedLayerNormalization"}
#: Transformer blocks whose outputs the head reads: the detector's last four (all of the shipped 4-layer
#: student). The last alone, tuned for identifiers, carries too little of a note's subject for the head.
BLOCKS = 4

Labelled = tuple[str, str, frozenset]


@dataclass(frozen=True)
class HeadPlan:
    """Sizes of one build of the head."""

    detector: Path
    train_notes: int = 7200
    dev_notes: int = 400
    test_notes: int = 600
    seed: int = 13
    hidden: int = 128
    epochs: int = 60
    threads: int = 2
    handwritten: Path = HANDWRITTEN


def find_hidden_tensor(graph: object) -> str:
    """The tensor feeding the token-classification head: from the graph's first output (the logits) up
    through head ops only, the nearest output of a layer normalization (the encoder's last)."""
    initializers = {i.name for i in graph.initializer}  # type: ignore[attr-defined]
    producer = {out: node for node in graph.node for out in node.output}  # type: ignore[attr-defined]
    frontier, seen = [graph.output[0].name], set()  # type: ignore[attr-defined]
    while frontier:
        tensor = frontier.pop(0)
        node = producer.get(tensor)
        if node is None or tensor in seen:
            continue
        seen.add(tensor)
        if node.op_type in _NORM_OPS:
            return tensor
        if node.op_type in _HEAD_OPS:
            frontier += [name for name in node.input if name and name not in initializers]
    raise ConfigError("no layer normalization feeds the logits through a token-classification head")


def find_block_outputs(graph: object, blocks: int = BLOCKS) -> list[str]:
    """The outputs of the encoder's last ``blocks`` transformer blocks, first to last: from the tensor that
    feeds the token head (:func:`find_hidden_tensor`) up the residual path, whose layer normalizations
    alternate between a block's output and its attention's output."""
    producer = {out: node for node in graph.node for out in node.output}  # type: ignore[attr-defined]
    chain = [find_hidden_tensor(graph)]
    while len(chain) < 2 * blocks - 1:
        parent = _residual_norm(producer[chain[-1]], producer)
        if parent is None:
            raise ConfigError(f"the encoder has fewer than {blocks} blocks on its residual path")
        chain.append(parent)
    return chain[::2][::-1]


def _residual_norm(node: object, producer: dict) -> str | None:
    """The layer normalization output the residual connection into ``node`` starts from (through Adds)."""
    frontier = [name for name in node.input[:2] if name in producer]  # type: ignore[attr-defined]
    for _ in range(3):
        found, nxt = None, []
        for tensor in frontier:
            parent = producer[tensor]
            if parent.op_type in _NORM_OPS and parent.output[0] == tensor:
                found = tensor
            elif parent.op_type == "Add":
                nxt += [name for name in parent.input if name in producer]
        if found is not None:
            return found
        frontier = nxt
    return None


def add_encoder_output(model_path: Path) -> list[str]:
    """Add :data:`ENCODER_OUTPUT` (the last :data:`BLOCKS` blocks' outputs, concatenated on the hidden axis)
    to the graph in ``model_path``, in place (nothing when it is there already); returns the tensors."""
    import onnx
    from onnx import TensorProto, helper

    model = onnx.load(str(model_path))
    graph = model.graph
    existing = [n for n in graph.node if ENCODER_OUTPUT in n.output]
    if existing:
        return list(existing[0].input)
    blocks = find_block_outputs(graph)
    graph.node.append(helper.make_node("Concat", blocks, [ENCODER_OUTPUT], name="category_head/encoder", axis=-1))
    graph.output.append(helper.make_tensor_value_info(ENCODER_OUTPUT, TensorProto.FLOAT, ["batch", "tokens", "width"]))
    onnx.save(model, str(model_path))
    return blocks


def extract(
    detector: Path, texts: Sequence[str], threads: int, progress: Callable[[str], None] = print
) -> list[np.ndarray]:
    """Per text, its windows' pooled features from the detector folder's int8 graph (the runtime's code)."""
    from pipeline.runtime.category_head import WindowFeatures
    from pipeline.runtime.onnx_recognizer import OnnxTokenClassifier

    model = OnnxTokenClassifier(detector, provider="cpu", threads=threads)
    model.enable_features(WindowFeatures(capacity=1))
    out: list[np.ndarray] = []
    started = time.monotonic()
    for first in range(0, len(texts), 32):
        out += model.window_features(list(texts[first : first + 32]))
        if first % 1024 == 0:
            progress(f"features: {len(out)}/{len(texts)} notes ({time.monotonic() - started:.0f} s)")
    return out


def _note_scores(layers: list[tuple[np.ndarray, np.ndarray]], features: Sequence[np.ndarray]) -> list[dict]:
    """A note's score per category: its highest over the windows (as :class:`CategoryHead` scores)."""
    return [
        {c: float(s) for c, s in zip(CATEGORIES, probabilities(layers, windows).max(axis=0), strict=True)}
        for windows in features
    ]


def train_head(features: np.ndarray, targets: np.ndarray, plan: HeadPlan) -> list[tuple[np.ndarray, np.ndarray]]:
    """A perceptron with one hidden layer on standardized features (the standardization folded into the
    first layer's weights); returns float32 (weight, bias) per layer."""
    import torch

    torch.manual_seed(plan.seed)
    torch.set_num_threads(plan.threads)
    mean, std = features.mean(axis=0), features.std(axis=0) + 1e-6
    x = torch.tensor((features - mean) / std, dtype=torch.float32)
    y = torch.tensor(targets, dtype=torch.float32)
    net = torch.nn.Sequential(
        torch.nn.Dropout(0.1),
        torch.nn.Linear(x.shape[1], plan.hidden),
        torch.nn.ReLU(),
        torch.nn.Dropout(0.2),
        torch.nn.Linear(plan.hidden, y.shape[1]),
    )
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-2)
    loss = torch.nn.BCEWithLogitsLoss()
    generator = torch.Generator().manual_seed(plan.seed)
    for _ in range(plan.epochs):
        net.train()
        for batch in torch.randperm(len(x), generator=generator).split(64):
            optimizer.zero_grad()
            loss(net(x[batch]), y[batch]).backward()
            optimizer.step()
    net.eval()
    w0 = net[1].weight.detach().numpy().T / std[:, None]
    b0 = net[1].bias.detach().numpy() - (mean / std) @ net[1].weight.detach().numpy().T
    w1, b1 = net[4].weight.detach().numpy().T, net[4].bias.detach().numpy()
    return [(w0.astype(np.float32), b0.astype(np.float32)), (w1.astype(np.float32), b1.astype(np.float32))]


def build_head(plan: HeadPlan, progress: Callable[[str], None] = print) -> dict[str, object]:
    """Every step; writes the head beside the detector and returns its settings and figures."""
    from pipeline.runtime.onnx_recognizer import find_model_file

    started = time.monotonic()
    model_path = find_model_file(plan.detector)
    blocks = add_encoder_output(model_path)
    progress(f"graph: {ENCODER_OUTPUT} concatenates {', '.join(blocks)} of {model_path}")
    train = generate(plan.train_notes, plan.seed, Split.TRAIN)
    sets: dict[str, list[Labelled]] = {
        "development": [(n.id, n.text, n.categories) for n in generate(plan.dev_notes, plan.seed, Split.HELDOUT)],
        "test": [
            (n.id, n.text, n.categories) for n in generate(plan.test_notes, plan.seed, Split.HELDOUT, start=TEST_START)
        ],
    }
    if plan.handwritten.exists():
        sets["handwritten"] = read_jsonl(plan.handwritten)
    train_features = extract(plan.detector, [n.text for n in train], plan.threads, progress)
    rows = np.concatenate(train_features)
    targets = np.concatenate(
        [np.repeat([n.labels()], len(f), axis=0) for n, f in zip(train, train_features, strict=True)]
    )
    progress(f"train: {len(rows)} windows of {len(train)} notes, {rows.shape[1]} features")
    layers = train_head(rows, targets, plan)
    scores = {
        name: _note_scores(layers, extract(plan.detector, [t for _, t, _ in items], plan.threads, progress))
        for name, items in sets.items()
    }
    thresholds = choose_thresholds(sets["development"], scores["development"])
    evaluation = {name: table(items, scores[name], thresholds) for name, items in sets.items()}
    arrays = {f"{kind}{i}": array for i, layer in enumerate(layers) for kind, array in zip("wb", layer, strict=True)}
    np.savez(plan.detector / HEAD_WEIGHTS, **arrays)
    config = {
        "categories": [c.value for c in CATEGORIES],
        "pooling": POOLING,
        "layers": len(layers),
        "encoder_tensors": blocks,
        "trunk_sha256": file_digest(model_path),
        "trunk_file": model_path.name,
        "thresholds": {
            "values": thresholds,
            "note": f"chosen for recall on the development split ({plan.dev_notes} held-out synthetic notes, seed "
            f"{plan.seed}): per category the threshold up to {THRESHOLD_CAP} with the best F{BETA:g}",
        },
        "training": {
            "corpus": f"{plan.train_notes} synthetic training notes (pipeline/modelbuild/sensitive, seed {plan.seed})",
            "windows": len(rows),
            "positives": {c.value: int(targets[:, i].sum()) for i, c in enumerate(CATEGORIES)},
            "hidden_units": plan.hidden,
            "epochs": plan.epochs,
            "trunk": "frozen (the detector's int8 encoder, as the worker runs it)",
        },
        "evaluation": evaluation,
        "build_minutes": round((time.monotonic() - started) / 60, 1),
    }
    (plan.detector / HEAD_CONFIG).write_text(json.dumps(config, indent=1) + "\n", encoding="utf-8")
    return config
