"""A smaller detector distilled from the shipped one, trainable on a GPU machine that has only torch.

The CPU's cost is the encoder's depth (bench/README.md), so the student keeps the teacher's embeddings,
its bottom ``layers`` layers and its classifier head, and learns from the teacher's soft labels (KL at a
temperature) and the corpus's gold labels together. Training a student of 2 layers on gold labels alone,
on the CPU within a time budget, fell 5.6 points of leak-free recall short of the teacher; distillation
over several epochs is what a GPU makes cheap.

Three steps, so that the GPU machine needs nothing from this package but this file (torch, transformers,
safetensors and numpy, which such machines carry):

1. ``pack`` (here, with the corpus generator): the training windows and the teacher's weights in fp16.
   Only the embedding rows the windows use travel; the embeddings are frozen while training, so every
   other row stays the teacher's.
2. ``train`` (there): distil and write the student's trained tensors (encoder layers, classifier) in fp16.
3. ``unpack`` (here): the teacher's folder with those tensors in place, cut to ``layers`` layers, in
   Hugging Face format for the ONNX export, quantization and evaluation of ``phi-pipeline model``.

    python -m pipeline.modelbuild.distill pack --teacher models/build/detector-v5/hf --out .distill
    python -m pipeline.modelbuild.distill train --pack .distill --layers 3 --out OUT   # on the GPU machine
    python -m pipeline.modelbuild.distill unpack --teacher ... --student OUT/student.safetensors --out DIR/hf \
        --onnx DIR/onnx-fp32
    phi-pipeline model quantize --out models/detector --build-dir DIR   # int8, shipped, evaluated
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

WINDOWS = "windows.npz"
TEACHER = "teacher.safetensors"
STUDENT = "student.safetensors"
PAD_ID = 0


def pack(teacher_dir: Path, out_dir: Path, notes: int, seed: int, max_length: int, stride: int) -> dict[str, int]:
    """Write the windows (int16 ids, int8 labels) and the teacher's used weights (fp16) to ``out_dir``."""
    from safetensors.numpy import load_file, save_file

    from pipeline.modelbuild.corpus import Split, generate
    from pipeline.modelbuild.features import encode_notes, load_tokenizer

    windows = encode_notes(
        generate(notes, seed, Split.TRAIN), load_tokenizer(teacher_dir / "tokenizer.json"), max_length, stride
    )
    ids = np.full((len(windows), max_length), PAD_ID, dtype=np.int16)
    labels = np.full((len(windows), max_length), -100, dtype=np.int8)
    for row, window in enumerate(windows):
        ids[row, : len(window.input_ids)] = window.input_ids
        labels[row, : len(window.labels)] = window.labels
    out_dir.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_dir / WINDOWS, ids=ids, labels=labels)
    weights = load_file(str(teacher_dir / "model.safetensors"))
    used = np.unique(ids.astype(np.int64))
    key = "bert.embeddings.word_embeddings.weight"
    vocab = weights[key].shape[0]
    packed = {name: value.astype(np.float16) for name, value in weights.items() if name != key}
    packed["used_rows"] = used.astype(np.int32)
    packed["used_embeddings"] = weights[key][used].astype(np.float16)
    save_file(packed, str(out_dir / TEACHER))
    config = json.loads((teacher_dir / "config.json").read_text(encoding="utf-8"))
    config["vocab_size"] = vocab
    (out_dir / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return {"windows": len(windows), "used_rows": int(used.size), "vocab": int(vocab)}


def train(
    pack_dir: Path,
    out_dir: Path,
    layers: int,
    epochs: float,
    batch_size: int,
    learning_rate: float,
    temperature: float = 2.0,
    soft_weight: float = 0.5,
    seed: int = 13,
) -> dict[str, object]:
    """Distil a ``layers``-layer student from the packed teacher; writes ``out_dir/student.safetensors``."""
    import torch
    from safetensors.torch import load_file, save_file
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    config = BertConfig.from_dict(json.loads((pack_dir / "config.json").read_text(encoding="utf-8")))
    packed = load_file(str(pack_dir / TEACHER))
    embeddings = torch.zeros(config.vocab_size, config.hidden_size, dtype=torch.float32)
    embeddings[packed.pop("used_rows").long()] = packed.pop("used_embeddings").float()
    state = {name: value.float() for name, value in packed.items()}
    state["bert.embeddings.word_embeddings.weight"] = embeddings
    teacher = BertForTokenClassification(config)
    teacher.load_state_dict(state, strict=False)
    teacher.to(device).eval()
    student_config = BertConfig.from_dict({**config.to_dict(), "num_hidden_layers": layers})
    student = BertForTokenClassification(student_config)
    student.load_state_dict({k: v for k, v in state.items() if _kept(k, layers)}, strict=False)
    student.to(device).train()
    for parameter in student.bert.embeddings.parameters():
        parameter.requires_grad = False
    data = np.load(pack_dir / WINDOWS)
    ids = torch.from_numpy(data["ids"].astype(np.int64))
    labels = torch.from_numpy(data["labels"].astype(np.int64))
    trainable = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=learning_rate, weight_decay=0.01)
    steps = max(1, int(math.ceil(len(ids) / batch_size) * epochs))
    warmup = max(1, steps // 16)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup)))
    )
    with torch.no_grad():  # the rebuilt teacher must match the shipped one: its loss on gold labels says so
        x, y = ids[:64].to(device), labels[:64].to(device)
        logits = teacher(input_ids=x, attention_mask=(x != PAD_ID).long()).logits.float()
        teacher_loss = torch.nn.functional.cross_entropy(logits[y != -100], y[y != -100]).item()
    print(f"distill: teacher loss on gold labels {teacher_loss:.4f} (device {device})", flush=True)
    generator = torch.Generator().manual_seed(seed)
    started, step, running = time.monotonic(), 0, 0.0
    while step < steps:
        for batch in torch.randperm(len(ids), generator=generator).split(batch_size):
            if step >= steps:
                break
            x, y = ids[batch].to(device), labels[batch].to(device)
            mask = (x != PAD_ID).long()
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
                with torch.no_grad():
                    soft = teacher(input_ids=x, attention_mask=mask).logits.float()
                logits = student(input_ids=x, attention_mask=mask).logits.float()
            valid = y != -100
            hard = torch.nn.functional.cross_entropy(logits[valid], y[valid])
            kl = (
                torch.nn.functional.kl_div(
                    torch.log_softmax(logits[valid] / temperature, -1),
                    torch.log_softmax(soft[valid] / temperature, -1),
                    log_target=True,
                    reduction="batchmean",
                )
                * temperature**2
            )
            loss = (1 - soft_weight) * hard + soft_weight * kl
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()
            step += 1
            running = 0.98 * running + 0.02 * loss.item() if step > 1 else loss.item()
            if step % 100 == 0 or step == steps:
                print(f"distill: step {step}/{steps} loss {running:.4f} {time.monotonic() - started:.0f} s", flush=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    trained = {
        k: v.detach().to(torch.float16).cpu().contiguous()
        for k, v in student.state_dict().items()
        if not k.startswith("bert.embeddings.")
    }
    save_file(trained, str(out_dir / STUDENT))
    report = {
        "layers": layers,
        "steps": steps,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "temperature": temperature,
        "soft_weight": soft_weight,
        "final_loss": round(running, 5),
        "seconds": round(time.monotonic() - started, 1),
        "device": device,
        "windows": len(ids),
        "torch": torch.__version__,
        "teacher_gold_loss": round(teacher_loss, 5),
    }
    (out_dir / "distill.json").write_text(json.dumps(report, indent=1), encoding="utf-8")
    return report


def _kept(name: str, layers: int) -> bool:
    if ".encoder.layer." not in name:
        return True
    return int(name.split(".encoder.layer.")[1].split(".")[0]) < layers


def unpack(teacher_dir: Path, student_file: Path, out_dir: Path) -> Path:
    """The teacher's folder with the student's tensors in place and the encoder cut to the student's depth."""
    from safetensors.numpy import load_file, save_file

    student = load_file(str(student_file))
    layers = 1 + max(int(k.split(".encoder.layer.")[1].split(".")[0]) for k in student if ".encoder.layer." in k)
    weights = {k: v for k, v in load_file(str(teacher_dir / "model.safetensors")).items() if _kept(k, layers)}
    weights.update({k: v.astype(np.float32) for k, v in student.items()})
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(out_dir / "model.safetensors"), metadata={"format": "pt"})
    for item in teacher_dir.iterdir():
        if item.name != "model.safetensors" and item.is_file():
            shutil.copy2(item, out_dir / item.name)
    config = json.loads((out_dir / "config.json").read_text(encoding="utf-8"))
    config["num_hidden_layers"] = layers
    (out_dir / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    return out_dir


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    p = sub.add_parser("pack")
    p.add_argument("--teacher", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--notes", type=int, default=16000)
    p.add_argument("--seed", type=int, default=13)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--stride", type=int, default=64)
    t = sub.add_parser("train")
    t.add_argument("--pack", type=Path, required=True)
    t.add_argument("--out", type=Path, required=True)
    t.add_argument("--layers", type=int, default=3)
    t.add_argument("--epochs", type=float, default=6.0)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--learning-rate", type=float, default=2e-4)
    u = sub.add_parser("unpack")
    u.add_argument("--teacher", type=Path, required=True)
    u.add_argument("--student", type=Path, required=True)
    u.add_argument("--out", type=Path, required=True)
    u.add_argument("--onnx", type=Path, default=None, help="also export to this folder (optimum, with labels.json)")
    u.add_argument("--max-length", type=int, default=256, help="the windows the student trained on (default 256)")
    u.add_argument("--stride", type=int, default=64)
    args = parser.parse_args()
    if args.step == "pack":
        print(pack(args.teacher, args.out, args.notes, args.seed, args.max_length, args.stride))
    elif args.step == "train":
        print(train(args.pack, args.out, args.layers, args.epochs, args.batch_size, args.learning_rate))
    else:
        print(unpack(args.teacher, args.student, args.out))
        if args.onnx is not None:
            from pipeline.modelbuild.export import export_onnx

            print(export_onnx(args.out, args.onnx, args.max_length, args.stride))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
