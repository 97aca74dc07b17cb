"""A narrower detector: the shipped one with its least important attention heads and feed-forward neurons cut
away, distilled back to the shipped int8 model's own logits, on the CPU.

Why width and not depth: the int8 model is about 85% of a real note's CPU and its int8 products already
run near the core's VNNI peak (bench/README.md, issue 29), so only fewer multiply-adds make it cheaper.
Students with fewer layers lost recall when they were distilled (3 layers: 0.978 against 0.985 on the
synthetic development split, and fewer key spans), so this keeps all four layers and cuts each one's width:
8 of 12 heads and 768 of 1,536 feed-forward neurons take a window's onnxruntime time to about 0.6x.

Not shipped (issue 29, bench/README.md "a width-pruned detector"): both candidates built so far equal the
shipped model on the synthetic test split and run at 1.46-1.48x its speed per real note, but lose recall on
presidio-research and on real notes.

What it learns from: only the project's synthetic training corpus (seed 13, the training split), labelled
twice: with its gold tags and with the shipped model's logits on each window (KL at a temperature, so the
narrow model copies the wide one's decisions, its borderline ones included). Never real notes.

Steps (``python -m pipeline.modelbuild.prune STEP``):

1. ``teach``: the windows and the shipped int8 model's logits on each, into ``--data``.
2. ``train``: the shipped weights dequantized to fp32 (:func:`dequantized_model`), importance of every head
   and feed-forward neuron (first order, gold-tag cross-entropy on 512 windows), the pruning, then
   distillation; writes a Hugging Face folder.
3. ``export``: the fp32 ONNX export and the held-out notes into a build folder, for ``phi-pipeline model
   quantize --build-dir`` (int8 as the shipped model, fused attention, evaluation, the model card); then
   ``phi-pipeline model calibrate`` and ``phi-pipeline model build-category-head`` on the result.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch and transformers are build-time dependencies only
    from transformers import BertForTokenClassification

from pipeline.core.errors import PipelineError
from pipeline.modelbuild.labels import bio_labels
from pipeline.runtime.onnx_recognizer import find_model_file

SEED = 13
WINDOW = 256
STRIDE = 64
PROBE_WINDOWS = 512
_QUANTIZED = "_quantized"


class PruneError(PipelineError, RuntimeError):
    """A folder or data set the pruning steps need is missing or not what they expect."""

    reason = "prune-build"


@dataclass(frozen=True)
class Plan:
    """How narrow, and how long to distil."""

    heads: int = 8
    ffn: int = 768
    epochs: int = 4
    batch_size: int = 32
    learning_rate: float = 1.5e-4
    temperature: float = 2.0
    soft_weight: float = 0.5
    #: weight of the mean squared difference between each layer's output and the shipped model's (0: off)
    hidden_weight: float = 0.0


def dequantized_state(model_dir: Path) -> dict[str, np.ndarray]:
    """The int8 ONNX detector's weights as a Hugging Face BERT state dict in fp32: each int8 matrix times its
    per-channel scales (less its zero points), float initializers as they are."""
    return _weights(_graph(model_dir))


def _graph(model_dir: Path):  # an onnx GraphProto; onnx is a build-time import
    import onnx

    return onnx.load(str(find_model_file(model_dir))).graph


def _weights(graph: object) -> dict[str, np.ndarray]:
    from onnx import numpy_helper

    values = {i.name: numpy_helper.to_array(i) for i in graph.initializer}  # type: ignore[attr-defined]
    state: dict[str, np.ndarray] = {}
    for node in _nodes(graph):
        if node.op_type != "MatMulInteger":
            continue
        weight, zero_point = node.input[1], node.input[3]
        base = weight[: -len(_QUANTIZED)]
        matrix = (values[weight].astype(np.float32) - values[zero_point].astype(np.float32)) * values[base + "_scale"]
        module = node.name.strip("/").removesuffix("/MatMul_quant").replace("/", ".")
        state[module + ".weight"] = np.ascontiguousarray(matrix.T)
    for name, value in values.items():
        if name.endswith(".weight" + _QUANTIZED):  # embeddings: one scale per table
            base = name[: -len(_QUANTIZED)]
            state[base] = (value.astype(np.float32) - values[base + "_zero_point"].astype(np.float32)) * values[
                base + "_scale"
            ]
        elif name.startswith(("bert.", "classifier.")) and not name.endswith(("_scale", "_zero_point", _QUANTIZED)):
            state[name] = value.astype(np.float32)
    return state


def _nodes(graph: object):
    """Every node, those inside If branches (the fused attention) included."""
    import onnx

    for node in graph.node:  # type: ignore[attr-defined]
        yield node
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attribute.g)


def dequantized_model(model_dir: Path) -> BertForTokenClassification:
    """The shipped detector as a trainable fp32 model (its shape read from its weights and its fused
    attention nodes; its labels are the ones every export writes, :func:`bio_labels`)."""
    import torch
    from transformers import BertConfig, BertForTokenClassification

    graph = _graph(model_dir)
    state = _weights(graph)
    heads = {
        a.i for n in _nodes(graph) if n.op_type == "MultiHeadAttention" for a in n.attribute if a.name == "num_heads"
    }
    if len(heads) != 1:
        raise PruneError(f"{model_dir}: expected fused attention with one head count, found {sorted(heads)}")
    labels = bio_labels()
    layers = 1 + max(int(k.split(".encoder.layer.")[1].split(".")[0]) for k in state if ".encoder.layer." in k)
    vocab, hidden = state["bert.embeddings.word_embeddings.weight"].shape
    config = BertConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=heads.pop(),
        intermediate_size=state["bert.encoder.layer.0.intermediate.dense.weight"].shape[0],
        max_position_embeddings=state["bert.embeddings.position_embeddings.weight"].shape[0],
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    model = BertForTokenClassification(config)
    missing, unexpected = model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()}, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise PruneError(
            f"{model_dir}: weights do not fit a BERT token classifier (missing {missing}, extra {unexpected})"
        )
    return model


def teach(model_dir: Path, data_dir: Path, notes: int) -> int:
    """Write the synthetic training windows, their gold tags and the shipped model's logits on each."""
    from pipeline.modelbuild.corpus import Split, generate
    from pipeline.modelbuild.features import encode_notes, load_tokenizer
    from pipeline.runtime.providers import create_session

    windows = encode_notes(
        generate(notes, SEED, Split.TRAIN), load_tokenizer(model_dir / "tokenizer.json"), WINDOW, STRIDE
    )
    count = len(windows)
    ids = np.zeros((count, WINDOW), np.int16)
    labels = np.full((count, WINDOW), -100, np.int8)
    lengths = np.zeros(count, np.int16)
    logits = np.zeros((count, WINDOW, len(bio_labels())), np.float16)
    session, _ = create_session(find_model_file(model_dir), "cpu", threads=2)
    for row, window in enumerate(windows):
        n = len(window.input_ids)
        lengths[row], ids[row, :n], labels[row, :n] = n, window.input_ids, window.labels
        x = np.array([window.input_ids], np.int64)
        out = session.run(
            ["logits"], {"input_ids": x, "attention_mask": np.ones_like(x), "token_type_ids": np.zeros_like(x)}
        )
        logits[row, :n] = out[0][0]
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, value in (("ids", ids), ("labels", labels), ("lengths", lengths), ("logits", logits)):
        np.save(data_dir / f"{name}.npy", value)
    return count


class _Windows:
    """The ``teach`` output, served as padded batches of similar length."""

    def __init__(self, data_dir: Path) -> None:
        try:
            self.ids = np.load(data_dir / "ids.npy")
            self.labels = np.load(data_dir / "labels.npy")
            self.lengths = np.load(data_dir / "lengths.npy")
            self.logits = np.load(data_dir / "logits.npy", mmap_mode="r")
        except FileNotFoundError as exc:
            raise PruneError(f"{data_dir}: no training windows; run the 'teach' step first ({exc.filename})") from exc

    def __len__(self) -> int:
        return len(self.ids)

    def batch(self, rows: np.ndarray):
        import torch

        rows = np.sort(rows)
        n = int(self.lengths[rows].max())
        lengths = torch.from_numpy(self.lengths[rows].astype(np.int64))
        mask = (torch.arange(n)[None, :] < lengths[:, None]).long()
        return (
            torch.from_numpy(self.ids[rows, :n].astype(np.int64)),
            mask,
            torch.from_numpy(self.labels[rows, :n].astype(np.int64)),
            torch.from_numpy(np.asarray(self.logits[rows, :n], dtype=np.float32)),
        )


def importance(
    model: BertForTokenClassification, windows: _Windows, rows: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray]]:
    """First-order importance of each head (|d loss / d head mask|) and of each feed-forward neuron
    (|activation x its gradient|, summed over tokens), on gold-tag cross-entropy over ``rows``."""
    import torch

    config = model.config
    head_mask = torch.ones(config.num_hidden_layers, config.num_attention_heads, requires_grad=True)
    activations: dict[int, torch.Tensor] = {}

    def keep(index: int):
        def hook(_module, _inputs, output) -> None:  # noqa: ANN001
            output.retain_grad()
            activations[index] = output

        return hook

    hooks = [layer.intermediate.register_forward_hook(keep(i)) for i, layer in enumerate(model.bert.encoder.layer)]
    neurons = [torch.zeros(config.intermediate_size) for _ in range(config.num_hidden_layers)]
    model.eval()
    try:
        for first in range(0, len(rows), 32):
            x, mask, gold, _ = windows.batch(rows[first : first + 32])
            logits = model(input_ids=x, attention_mask=mask, head_mask=head_mask).logits
            loss = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), gold.reshape(-1), ignore_index=-100
            )
            loss.backward()
            for i, act in activations.items():
                neurons[i] += (act * act.grad).abs().sum(dim=(0, 1)).detach()
            model.zero_grad()
    finally:
        for hook in hooks:
            hook.remove()
    return head_mask.grad.abs().numpy(), [n.numpy() for n in neurons]


def prune(model: BertForTokenClassification, heads: np.ndarray, neurons: list[np.ndarray], plan: Plan) -> None:
    """Keep each layer's ``plan.heads`` most important heads and ``plan.ffn`` most important neurons."""
    import torch

    per_layer = heads.shape[1]
    if not 0 < plan.heads <= per_layer or not 0 < plan.ffn <= neurons[0].size:
        raise PruneError(f"keep 1..{per_layer} heads and 1..{neurons[0].size} neurons, not {plan.heads} and {plan.ffn}")
    if plan.heads < per_layer:
        model.prune_heads(
            {
                i: sorted(np.argsort(row, kind="stable")[: per_layer - plan.heads].tolist())
                for i, row in enumerate(heads)
            }
        )
    for layer, score in zip(model.bert.encoder.layer, neurons, strict=True):
        kept = torch.from_numpy(np.sort(np.argsort(-score, kind="stable")[: plan.ffn]))
        up, down = layer.intermediate.dense, layer.output.dense
        narrow_up = torch.nn.Linear(up.in_features, plan.ffn)
        narrow_down = torch.nn.Linear(plan.ffn, down.out_features)
        with torch.no_grad():
            narrow_up.weight.copy_(up.weight[kept])
            narrow_up.bias.copy_(up.bias[kept])
            narrow_down.weight.copy_(down.weight[:, kept])
            narrow_down.bias.copy_(down.bias)
        layer.intermediate.dense, layer.output.dense = narrow_up, narrow_down
    model.config.intermediate_size = plan.ffn


def distil(
    model: BertForTokenClassification,
    windows: _Windows,
    plan: Plan,
    rng: np.random.Generator,
    teacher: BertForTokenClassification | None = None,
) -> dict[str, float]:
    """Train the pruned model (embeddings frozen) on KL to the shipped logits plus gold-tag cross-entropy,
    and with ``plan.hidden_weight`` on the distance of each layer's output to ``teacher``'s (the shipped
    model in fp32: the same width of hidden state, so the narrow model keeps the wide one's features, not
    only its decisions on synthetic text); batches of similar length in a shuffled order, linear warm-up
    (5%) and decay."""
    import torch

    for parameter in model.bert.embeddings.parameters():
        parameter.requires_grad = False
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=plan.learning_rate, weight_decay=0.01)
    order = np.argsort(windows.lengths, kind="stable")
    batches = [order[i : i + plan.batch_size] for i in range(0, len(order), plan.batch_size)]
    total, step, running, started = len(batches) * plan.epochs, 0, 0.0, time.monotonic()
    t = plan.temperature
    model.train()
    for _ in range(plan.epochs):
        rng.shuffle(batches)
        for rows in batches:
            fraction = max(step / total, 1e-4)
            for group in optimizer.param_groups:
                group["lr"] = plan.learning_rate * min(1.0, fraction / 0.05) * (1 - fraction)
            x, mask, gold, shipped = windows.batch(rows)
            out = model(input_ids=x, attention_mask=mask, output_hidden_states=plan.hidden_weight > 0)
            logits = out.logits
            valid = mask.bool()
            soft = torch.nn.functional.kl_div(
                torch.log_softmax(logits[valid] / t, -1), torch.softmax(shipped[valid] / t, -1), reduction="batchmean"
            )
            hard = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), gold.reshape(-1), ignore_index=-100
            )
            loss = plan.soft_weight * soft * t * t + (1 - plan.soft_weight) * hard
            if plan.hidden_weight > 0 and teacher is not None:
                with torch.no_grad():
                    wanted = teacher(input_ids=x, attention_mask=mask, output_hidden_states=True).hidden_states
                distance = sum(
                    torch.nn.functional.mse_loss(mine[valid], theirs[valid])
                    for mine, theirs in zip(out.hidden_states[1:], wanted[1:], strict=True)
                )
                loss = loss + plan.hidden_weight * distance / (len(wanted) - 1)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            step += 1
            running = loss.item() if step == 1 else 0.98 * running + 0.02 * loss.item()
            if step % 100 == 0 or step == total:
                print(f"prune: step {step}/{total} loss {running:.4f} {time.monotonic() - started:.0f} s", flush=True)
    model.eval()
    return {"steps": step, "final_loss": round(running, 5), "seconds": round(time.monotonic() - started, 1)}


def train(model_dir: Path, data_dir: Path, out_dir: Path, plan: Plan, resume: Path | None = None) -> dict[str, object]:
    """Dequantize, prune and distil (or, with ``resume``, distil an already pruned folder further); writes a
    Hugging Face folder (with the tokenizer) and ``prune.json``."""
    import torch
    from transformers import BertForTokenClassification

    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    windows = _Windows(data_dir)
    rng = np.random.default_rng(SEED)
    if resume is None:
        model = dequantized_model(model_dir)
        heads, neurons = importance(model, windows, rng.choice(len(windows), PROBE_WINDOWS, replace=False))
        prune(model, heads, neurons, plan)
    else:
        model = BertForTokenClassification.from_pretrained(resume)
    teacher = dequantized_model(model_dir).eval() if plan.hidden_weight > 0 else None
    torch.manual_seed(SEED)  # dropout's stream starts here, whatever building the model drew
    figures = distil(model, windows, plan, rng, teacher)
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    shutil.copy2(model_dir / "tokenizer.json", out_dir / "tokenizer.json")
    layer = model.bert.encoder.layer[0]
    report = {
        **plan.__dict__,
        "heads": layer.attention.self.num_attention_heads,
        "ffn": model.config.intermediate_size,
        **figures,
        "windows": len(windows),
        "resumed_from": str(resume) if resume else None,
        "pruned_heads": model.config.pruned_heads,
        "torch": torch.__version__,
    }
    (out_dir / "prune.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
    return report


def export(trained_dir: Path, build_dir: Path, heldout_notes: int = 400) -> Path:
    """The build folder ``phi-pipeline model quantize --build-dir`` takes: the fp32 ONNX export and the
    synthetic held-out notes the shipped report is measured on."""
    from pipeline.modelbuild.corpus import Split, generate, jsonl_lines
    from pipeline.modelbuild.export import export_onnx

    path = export_onnx(trained_dir, build_dir / "onnx-fp32", WINDOW, STRIDE)
    heldout = generate(heldout_notes, SEED, Split.HELDOUT)
    (build_dir / "heldout.jsonl").write_text("".join(jsonl_lines(heldout)), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    t = sub.add_parser("teach")
    t.add_argument("--model", type=Path, default=Path("models/detector"))
    t.add_argument("--data", type=Path, required=True)
    t.add_argument("--notes", type=int, default=16000)
    r = sub.add_parser("train")
    r.add_argument("--model", type=Path, default=Path("models/detector"))
    r.add_argument("--data", type=Path, required=True)
    r.add_argument("--out", type=Path, required=True)
    r.add_argument("--resume", type=Path, default=None, help="an already pruned folder to distil further")
    for name, value in Plan().__dict__.items():
        r.add_argument("--" + name.replace("_", "-"), type=type(value), default=value)
    e = sub.add_parser("export")
    e.add_argument("--trained", type=Path, required=True)
    e.add_argument("--build-dir", type=Path, required=True)
    args = parser.parse_args()
    if args.step == "teach":
        print(f"prune: {teach(args.model, args.data, args.notes)} windows")
    elif args.step == "train":
        plan = Plan(**{k: getattr(args, k) for k in Plan().__dict__})
        print(json.dumps(train(args.model, args.data, args.out, plan, args.resume), indent=1, default=str))
    else:
        print(f"prune: {export(args.trained, args.build_dir)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
