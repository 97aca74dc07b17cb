"""Fused self-attention for the int8 detector on the CPU: each layer's attention becomes one
``com.microsoft.MultiHeadAttention`` node, with the int8 Q/K/V projections left exactly as they are.

The exported graph computes attention as a dozen small nodes (reshape and transpose Q, K and V, scale,
``MatMul``, add the padding mask, ``Softmax``, ``MatMul``, transpose and reshape back), and onnxruntime's
CPU optimizer does not fuse them in a quantized graph. Its ``MultiHeadAttention`` kernel does the same
arithmetic in one pass and, when no padding mask is given, with its flash-attention kernel (scores never
materialized). The CPU runtime runs every window alone and unpadded, so the mask is all ones there; a
padded batch (the GPU path) must still mask. Each fused layer is therefore an ``If``: all mask values 1
runs the unmasked node, anything else the masked one. Nothing else changes: the quantized projections,
the feed-forward layers, the hidden states and the logits keep their names, so outputs added later (the
encoder's last hidden state) attach as before.

Re-runnable: a graph with no unfused attention left is written back unchanged. Every fusion is checked
against the original on probe windows (unpadded and a padded batch) before it is written.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.core.errors import PipelineError

MS_DOMAIN = "com.microsoft"
UNPADDED = "attention_unpadded"
MASK_INT32 = "attention_mask_int32"
#: Probe agreement the fused graph must reach against the original (token argmax; mean |logit change|).
#: The int8 activations are re-quantized per run, so a rounding that lands the other side of a step moves a
#: few logits a little; a wrong scale or head count moves them all.
MIN_ARGMAX_AGREEMENT = 0.98
MAX_MEAN_LOGIT_CHANGE = 0.08


class AttentionFusionError(PipelineError, RuntimeError):
    """The graph's attention could not be fused, or the fused graph disagrees with the original."""

    reason = "attention-fusion"


@dataclass(frozen=True, slots=True)
class FusionResult:
    """What :func:`fuse_attention` did: layers fused now, layers already fused, and the probe agreement."""

    fused: int
    already_fused: int
    argmax_agreement: float
    mean_logit_change: float
    max_logit_change: float


@dataclass(frozen=True, slots=True)
class _Attention:
    query: str
    key: str
    value: str
    output: str
    num_heads: int
    head_size: int
    prefix: str


def fuse_attention(model_path: Path, out_path: Path | None = None) -> FusionResult:
    """Fuse every self-attention block of the ONNX model at ``model_path`` into ``out_path`` (default: in
    place) and check the fused graph against the original; raise :class:`AttentionFusionError` when a
    block does not have the exported shape or the check fails."""
    import onnx

    model = onnx.load(str(model_path))
    already = sum(1 for n in model.graph.node if n.op_type == "If" and n.name.endswith("/MultiHeadAttention"))
    producers = {out: node for node in model.graph.node for out in node.output}
    consumers: dict[str, list[object]] = {}
    for node in model.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    blocks = [
        _match(model.graph, producers, consumers, softmax)
        for softmax in model.graph.node
        if softmax.op_type == "Softmax"
    ]
    target = out_path or model_path
    if not blocks:
        if target != model_path:
            onnx.save(model, str(target))
        return FusionResult(0, already, 1.0, 0.0, 0.0)
    fused = _rewrite(model, blocks)
    with tempfile.TemporaryDirectory() as tmp:
        candidate = Path(tmp) / "fused.onnx"
        onnx.save(fused, str(candidate))
        agreement, mean_change, max_change = _agreement(model_path, candidate, _vocabulary(model.graph))
        if agreement < MIN_ARGMAX_AGREEMENT or mean_change > MAX_MEAN_LOGIT_CHANGE:
            raise AttentionFusionError(
                f"{model_path.name}: the fused graph disagrees with the original on probe windows (token "
                f"agreement {agreement:.4f}, mean logit change {mean_change:.4f}); not written"
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        onnx.save(fused, str(target))
    return FusionResult(len(blocks), already, agreement, mean_change, max_change)


# -- matching ----------------------------------------------------------------------------------


def _match(
    graph: object, producers: dict[str, object], consumers: dict[str, list[object]], softmax: object
) -> _Attention:
    """The attention block around ``softmax``: scores = (q reshaped, transposed, scaled) x (k likewise),
    plus the mask; context = softmax x (v reshaped, transposed), transposed and reshaped back. The scale
    and the key's transpose are not read from the graph: the check against the original catches a
    graph that computes them otherwise."""

    def only_consumer(name: str, op: str) -> object:
        found = consumers.get(name, [])
        if len(found) != 1 or found[0].op_type != op:
            raise AttentionFusionError(f"{softmax.name}: expected one {op} reading {name}")
        return found[0]

    scores = producers.get(softmax.input[0])
    if scores is not None and scores.op_type == "Add":  # the padding mask added to the scores
        scores = next((producers.get(i) for i in scores.input if _op(producers.get(i)) == "MatMul"), None)
    if _op(scores) != "MatMul":
        raise AttentionFusionError(f"{softmax.name}: no score MatMul before it")
    query = _unproject(producers, scores.input[0], softmax.name)
    key = _unproject(producers, scores.input[1], softmax.name)
    context = only_consumer(softmax.output[0], "MatMul")
    value = _unproject(producers, context.input[1], softmax.name)
    back = only_consumer(context.output[0], "Transpose")
    merged = only_consumer(back.output[0], "Reshape")
    heads, head_size = _heads(graph, producers, query)
    prefix = softmax.name.rsplit("/", 1)[0] + "/" if "/" in softmax.name else softmax.name + "/"
    return _Attention(
        query=query.input[0],
        key=key.input[0],
        value=value.input[0],
        output=merged.output[0],
        num_heads=heads,
        head_size=head_size,
        prefix=prefix,
    )


def _unproject(producers: dict[str, object], name: str, where: str) -> object:
    """The head Reshape a score or context operand comes from, through an optional scaling Mul and the
    head Transpose."""
    node = producers.get(name)
    if _op(node) == "Mul":
        node = next((producers[i] for i in node.input if _op(producers.get(i)) == "Transpose"), None)
    if _op(node) != "Transpose" or _op(producers.get(node.input[0])) != "Reshape":
        raise AttentionFusionError(f"{where}: an attention operand is not a reshaped, transposed projection")
    return producers[node.input[0]]


def _heads(graph: object, producers: dict[str, object], reshape: object) -> tuple[int, int]:
    """(num_heads, head_size) from the last two entries of the Reshape's target shape."""
    from onnx import numpy_helper

    constants = {i.name: numpy_helper.to_array(i) for i in graph.initializer}

    def value(name: str) -> np.ndarray | None:
        if name in constants:
            return constants[name]
        node = producers.get(name)
        if node is not None and node.op_type == "Constant":
            return numpy_helper.to_array(node.attribute[0].t)
        return None

    shape = value(reshape.input[1])
    if shape is None:
        concat = producers.get(reshape.input[1])
        if _op(concat) != "Concat":
            raise AttentionFusionError(f"{reshape.name}: the head shape is neither constant nor a Concat")
        parts = [value(i) for i in concat.input[-2:]]
        if any(p is None for p in parts):
            raise AttentionFusionError(f"{reshape.name}: the head count and size are not constants")
        shape = np.concatenate([np.ravel(p) for p in parts])
    heads, size = (int(x) for x in np.ravel(shape)[-2:])
    if heads < 1 or size < 1:
        raise AttentionFusionError(f"{reshape.name}: head shape {heads} x {size} is not static")
    return heads, size


def _op(node: object | None) -> str:
    return "nothing" if node is None else node.op_type


# -- rewriting ---------------------------------------------------------------------------------


def _rewrite(model: object, blocks: list[_Attention]) -> object:
    import onnx
    from onnx import TensorProto, helper

    fused = onnx.ModelProto()
    fused.CopyFrom(model)
    graph = fused.graph
    inputs = {i.name for i in graph.input}
    masked = "attention_mask" in inputs
    replacements = {b.output: _if_node(b, masked) for b in blocks}
    nodes = [replacements.get(n.output[0], n) if n.output else n for n in graph.node]
    if masked and not any(n.output and n.output[0] == UNPADDED for n in nodes):
        nodes = [
            helper.make_node("ReduceMin", ["attention_mask"], [UNPADDED + "_min"], name=UNPADDED + "_min", keepdims=0),
            helper.make_node(
                "Constant",
                [],
                [UNPADDED + "_one"],
                name=UNPADDED + "_one",
                value=helper.make_tensor(UNPADDED + "_one", TensorProto.INT64, [], [1]),
            ),
            helper.make_node("Equal", [UNPADDED + "_min", UNPADDED + "_one"], [UNPADDED], name=UNPADDED),
            helper.make_node("Cast", ["attention_mask"], [MASK_INT32], name=MASK_INT32, to=TensorProto.INT32),
            *nodes,
        ]
    nodes = _live(nodes, {o.name for o in graph.output})
    del graph.node[:]
    graph.node.extend(nodes)
    used = set().union(*(_reads(n) for n in nodes))
    kept = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(kept)
    if not any(o.domain == MS_DOMAIN for o in fused.opset_import):
        fused.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return fused


def _if_node(block: _Attention, masked: bool) -> object:
    from onnx import TensorProto, helper

    def attention(suffix: str, extra: list[str]) -> object:
        return helper.make_node(
            "MultiHeadAttention",
            [block.query, block.key, block.value, *extra],
            [block.output + suffix],
            name=block.prefix + "MultiHeadAttention" + suffix,
            domain=MS_DOMAIN,
            num_heads=block.num_heads,
            scale=1.0 / math.sqrt(block.head_size),
        )

    if not masked:
        node = attention("", [])
        node.output[0] = block.output
        return node

    def branch(suffix: str, extra: list[str]) -> object:
        out = helper.make_tensor_value_info(block.output + suffix, TensorProto.FLOAT, None)
        return helper.make_graph([attention(suffix, extra)], block.prefix + suffix.strip("_"), [], [out])

    return helper.make_node(
        "If",
        [UNPADDED],
        [block.output],
        name=block.prefix + "MultiHeadAttention",
        then_branch=branch("_unpadded", []),
        else_branch=branch("_padded", ["", MASK_INT32]),
    )


def _reads(node: object) -> set[str]:
    names = set(node.input)
    for attribute in node.attribute:
        if attribute.g.node:
            for inner in attribute.g.node:
                names |= _reads(inner)
    return names


def _live(nodes: list[object], outputs: set[str]) -> list[object]:
    """``nodes`` without those whose outputs nothing reads (repeated until none is left)."""
    while True:
        used = set().union(*(_reads(n) for n in nodes)) | outputs
        live = [n for n in nodes if any(o in used for o in n.output)]
        if len(live) == len(nodes):
            return live
        nodes = live


# -- checking ----------------------------------------------------------------------------------


def _vocabulary(graph: object) -> int:
    """Rows of the table the input ids index (the word embeddings), so probe ids stay in range."""
    tables = {i.name: i.dims[0] for i in graph.initializer if i.dims}
    for node in graph.node:
        if node.op_type == "Gather" and node.input[1] == "input_ids" and node.input[0] in tables:
            return int(tables[node.input[0]])
    raise AttentionFusionError("no word-embedding Gather reads input_ids; cannot probe the fused graph")


def _agreement(original: Path, fused: Path, vocabulary: int) -> tuple[float, float, float]:
    """Token argmax agreement and mean / max absolute logit change of ``fused`` against ``original`` on
    probe windows: unpadded ones of several lengths and a padded batch (padding positions ignored). Ids
    below 1000 (BERT's special and unused tokens) are left out where the vocabulary is large."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = [ort.InferenceSession(str(p), options, providers=["CPUExecutionProvider"]) for p in (original, fused)]
    names = {i.name for i in sessions[0].get_inputs()}
    rng = np.random.default_rng(29)
    agree = total = 0
    changes: list[np.ndarray] = []
    for lengths in ([7], [64], [256], [48, 17, 48]):
        width = max(lengths)
        ids = np.zeros((len(lengths), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, length in enumerate(lengths):
            ids[row, :length] = rng.integers(1000 if vocabulary > 2000 else 0, vocabulary, length)
            mask[row, :length] = 1
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        feeds = {k: v for k, v in feeds.items() if k in names}
        before, after = (s.run(None, feeds)[0] for s in sessions)
        valid = mask.astype(bool)
        agree += int((before.argmax(-1) == after.argmax(-1))[valid].sum())
        total += int(valid.sum())
        changes.append(np.abs(before - after)[valid].ravel())
    change = np.concatenate(changes)
    return agree / total, float(change.mean()), float(change.max())
