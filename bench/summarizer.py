"""Faithfulness and speed of the summarizer variants (fp32, int8, int4) on synthetic redacted notes.

Each note is redacted the way the pipeline does it (rules detector, default text policy: placeholders),
summarized by every built variant, re-scanned for PHI and judged by the faithfulness guard. Reports per
variant: the share of generations that pass the guard and the hallucination count (guard failures), both
judged on the whole generated text; how many summaries are published as generated (after trimming a cut-off
last sentence, the loop check and the guard); latency per note (one at a time and batched) and tokens per second.
Chooses the smallest variant that is as faithful as fp32 (pass share at least fp32's and no more
hallucinations), else fp32.

    .venv/bin/python bench/summarizer.py [--notes 100] [--single 10] [--threads 2] [--variants fp32,int8,int4]

Prints a table and writes bench/results/summarizer.json. Needs the variants built first:
``phi-pipeline model build-summarizer``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.core.summary_guard import check_faithfulness, finalize_summary  # noqa: E402
from pipeline.core.transform import DEFAULT_TEXT_POLICY, TransformContext, transform_text  # noqa: E402
from pipeline.runtime.detectors import build_detector  # noqa: E402
from pipeline.runtime.summarizer import OnnxSummarizer  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "summarizer.json"
SIZE_ORDER = ("int4", "int8", "fp32")  # smallest first


def source_notes(count: int) -> tuple[list[str], str]:
    """Notes from the project's corpus generator (held-out split) when present, else synthetic_records."""
    try:
        from pipeline.modelbuild.corpus import Split, generate
    except ImportError:
        from pipeline.devtools.synthetic import synthetic_records

        return [r.record["note"] for r in synthetic_records(count, seed=11)], "pipeline.devtools.synthetic"
    return [note.text for note in generate(count, seed=29, split=Split.HELDOUT)], "pipeline.modelbuild.corpus (heldout)"


def redact(notes: list[str]) -> tuple[list[str], object]:
    detector = build_detector(None)
    ctx = TransformContext(patient_key="bench", secret=b"bench-secret-0123456789")
    return [transform_text(n, detector.detect(n), DEFAULT_TEXT_POLICY, ctx).text for n in notes], detector


def folder_mb(folder: Path) -> float:
    return round(sum(p.stat().st_size for p in folder.iterdir() if p.is_file()) / 1e6, 1)


def run_variant(variant: str, folder: Path, notes: list[str], detector, args) -> tuple[dict, list[str]]:
    summarizer = OnnxSummarizer(folder, provider=args.provider, threads=args.threads, batch_size=args.batch_size)
    summarizer.summarize_batch(notes[:1], max_new_tokens=4)  # warm-up: session allocations, first-run costs
    print(f"{variant}: {len(notes)} notes batched ({args.batch_size} per batch)", file=sys.stderr, flush=True)
    began = time.perf_counter()
    generations = summarizer.summarize_batch(notes, max_new_tokens=args.max_new_tokens)
    batched_seconds = time.perf_counter() - began
    batched_tokens = sum(g.new_tokens for g in generations)

    print(f"{variant}: {args.single} notes one at a time", file=sys.stderr, flush=True)
    summarizer.batch_size = 1
    single = [summarizer.summarize_batch([n], max_new_tokens=args.max_new_tokens)[0] for n in notes[: args.single]]
    single_latency = [g.seconds for g in single]
    single_tokens = sum(g.new_tokens for g in single)

    outcomes = [
        finalize_summary(n, g.text, detector.detect(g.text), truncated=g.truncated)
        for n, g in zip(notes, generations, strict=True)
    ]
    # The guard judged on each whole generation (before any trimming): a measure of the model itself.
    reports = [check_faithfulness(g.text, n) for n, g in zip(notes, generations, strict=True)]
    passed = sum(r.passed and bool(g.text.strip()) for r, g in zip(reports, generations, strict=True))
    failure_kinds = Counter(f.kind for r in reports for f in r.failures)
    row = {
        "variant": variant,
        "size_mb": folder_mb(folder),
        "provider": summarizer.provider,
        "notes": len(notes),
        "guard_pass_share": round(passed / len(notes), 3),
        "hallucinations": sum(failure_kinds.values()),
        "hallucinations_by_kind": dict(sorted(failure_kinds.items())),
        "published_generated_share": round(sum(o.method == "generated" for o in outcomes) / len(notes), 3),
        "fallback_reasons": dict(
            Counter((o.fallback_reason or "").split(":")[0] for o in outcomes if o.fallback_reason)
        ),
        "phi_found_in_generations": sum(o.phi_found for o in outcomes),
        "mean_new_tokens": round(batched_tokens / len(notes), 1),
        "truncated_share": round(sum(g.truncated for g in generations) / len(notes), 3),
        "single_latency_s_mean": round(statistics.mean(single_latency), 3),
        "single_latency_s_p95": round(sorted(single_latency)[max(0, int(0.95 * len(single_latency)) - 1)], 3),
        "single_tokens_per_s": round(single_tokens / sum(single_latency), 1),
        "batched_seconds_per_note": round(batched_seconds / len(notes), 3),
        "batched_tokens_per_s": round(batched_tokens / batched_seconds, 1),
        "examples": [
            {"source": n, "generated": g.text, "published": o.summary, "method": o.method, "reason": o.fallback_reason}
            for n, g, o in list(zip(notes, generations, outcomes, strict=True))[:3]
        ],
    }
    return row, [g.text for g in generations]


def choose(rows: dict[str, dict]) -> tuple[str, str]:
    """The smallest variant at least as faithful as fp32 on both measures, and why."""
    if "fp32" not in rows:
        return min(rows, key=SIZE_ORDER.index), "fp32 not measured: smallest measured variant"
    base = rows["fp32"]
    for variant in SIZE_ORDER:
        row = rows.get(variant)
        if row is None:
            continue
        if row["guard_pass_share"] >= base["guard_pass_share"] and row["hallucinations"] <= base["hallucinations"]:
            if variant == "fp32":
                return "fp32", "no quantized variant was as faithful as fp32"
            return variant, (
                f"{variant} passes the guard on {row['guard_pass_share']:.0%} of notes "
                f"(fp32 {base['guard_pass_share']:.0%}) with {row['hallucinations']} hallucinations "
                f"(fp32 {base['hallucinations']}) at "
                f"{row['size_mb']:.0f} MB (fp32 {base['size_mb']:.0f} MB)"
            )
    return "fp32", "no quantized variant was as faithful as fp32"


def table(rows: list[dict]) -> str:
    header = (
        "| variant | size MB | guard pass | hallucinations | published as generated | single s/note | "
        "single tok/s | batched s/note | batched tok/s |"
    )
    lines = [header, "|" + "---|" * 9]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['size_mb']:.0f} | {r['guard_pass_share']:.0%} | {r['hallucinations']} | "
            f"{r['published_generated_share']:.0%} | {r['single_latency_s_mean']:.2f} | "
            f"{r['single_tokens_per_s']:.1f} | "
            f"{r['batched_seconds_per_note']:.2f} | {r['batched_tokens_per_s']:.1f} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=ROOT / "models" / "summarizer")
    parser.add_argument("--variants", default="fp32,int8,int4")
    parser.add_argument("--notes", type=int, default=100)
    parser.add_argument("--single", type=int, default=10, help="notes timed one at a time (latency)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--provider", default="cpu")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    raw, origin = source_notes(args.notes)
    notes, detector = redact(raw)
    rows: dict[str, dict] = {}
    texts: dict[str, list[str]] = {}
    for variant in [v.strip() for v in args.variants.split(",") if v.strip()]:
        folder = args.models / variant
        if not (folder / "model.onnx").is_file():
            print(f"{variant}: not built in {folder}, skipped", file=sys.stderr)
            continue
        rows[variant], texts[variant] = run_variant(variant, folder, notes, detector, args)
    if not rows:
        print("no summarizer variant is built; run: phi-pipeline model build-summarizer", file=sys.stderr)
        return 2
    for variant, row in rows.items():
        if "fp32" in texts:
            same = sum(a == b for a, b in zip(texts[variant], texts["fp32"], strict=True))
            row["identical_to_fp32_share"] = round(same / len(notes), 3)
    chosen, why = choose(rows)
    ordered = [rows[v] for v in ("fp32", "int8", "int4") if v in rows]
    print(table(ordered))
    print(f"\nchosen: {chosen} ({why})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "notes": len(notes),
        "notes_from": origin,
        "redaction": "rules detector + DEFAULT_TEXT_POLICY placeholders",
        "max_new_tokens": args.max_new_tokens,
        "batch_size": args.batch_size,
        "threads": args.threads,
        "machine": f"{platform.processor() or platform.machine()}, shared CPU",
        "variants": ordered,
        "chosen": chosen,
        "chosen_because": why,
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
