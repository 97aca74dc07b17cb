"""Where a message's CPU goes in the worker's processor, part by part, without Kafka and without a sampler.

Builds the worker's own processor (``build_processor`` from the environment's settings, one inference
thread unless ``PHI_INFERENCE_THREADS`` says otherwise), makes the throughput benchmark's inputs (records
with notes of about 1.5 KB, or structured records) and processes them in steps of ``--step`` messages, as
the worker does. Each part below is timed in thread CPU (``time.thread_time``), exclusive of the parts it
calls, so the rows add up to the whole; time spent waiting for a core is not counted (a sampler under load
counts it), though a busy machine still slows the work itself (shared caches: compare within one run).
The total is the process's CPU per message.

With ``--baseline DIR`` another checkout's processor is measured the same way, in alternating rounds
(``--rounds``, median per part kept), each in a fresh process, so both see the machine alike.
``--rules`` splits the rules' row by recognizer (what the row keeps is ``Doc`` and vetting).

    .venv/bin/python bench/cpu_split.py [--scenario notes|structured] [--messages 128] [--rounds 3]
                                        [--rules] [--baseline DIR] [--out cpu-split.json]
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

#: (label, module, attribute): what is timed. An attribute may be ``Class.method`` or a module-level name
#: (a function a module imported is timed where that module calls it). A part missing from a checkout is
#: left out of its table.
PARTS: tuple[tuple[str, str, str], ...] = (
    ("detector model: onnxruntime run", "pipeline.runtime.onnx_recognizer", "OnnxTokenClassifier._infer"),
    ("detector model: tokenize, windows, softmax, decode", "pipeline.runtime.onnx_recognizer",
     "OnnxTokenClassifier.detect_batch"),
    ("rules: recognizers and vetting", "pipeline.core.detection.rule_detector", "RuleDetector.candidates"),
    ("ensemble: vet model spans", "pipeline.core.detection.ensemble", "vet"),
    ("ensemble: merge", "pipeline.core.detection.merge", "Ensemble.merge"),
    ("ensemble: rescue neighbours", "pipeline.core.detection.ensemble", "rescue_neighbours"),
    ("ensemble: propagate", "pipeline.core.detection.ensemble", "propagate"),
    ("ensemble: complete", "pipeline.core.detection.ensemble", "complete"),
    ("ensemble: other", "pipeline.core.detection.ensemble", "EnsembleDetector.detect_batch"),
    ("sensitive classifier", "pipeline.core.deidentify", "Deidentifier.classify"),
    ("verify HMAC", "pipeline.core.processing", "verify_headers"),
    ("open: decode, protect fields", "pipeline.core.processing", "RecordProcessor._open"),
    ("known values", "pipeline.core.known_values", "KnownValueFinder.find"),
    ("transform text", "pipeline.core.deidentify", "transform_text"),
    ("render (encode output)", "pipeline.core.formats.processor", "AvroFormat.render"),
    ("finish: other", "pipeline.core.deidentify", "Deidentifier.finish"),
    ("sign output", "pipeline.core.processing", "signed_output"),
    ("audit event: build", "pipeline.core.processing", "processed_event"),
    ("emit: other", "pipeline.core.processing", "RecordProcessor._emit"),
    ("audit event: chain, encode, sign", "pipeline.core.processing", "RecordProcessor.audit_message"),
    ("batch: other", "pipeline.core.processing", "RecordProcessor.process_batch"),
)  # fmt: skip


class PartClock:
    """Thread CPU per label, exclusive of the timed parts each one calls."""

    def __init__(self) -> None:
        self.seconds: Counter[str] = Counter()
        self._inner: list[float] = []

    def wrap(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.thread_time()
            self._inner.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - started
                self.seconds[label] += spent - self._inner.pop()
                if self._inner:
                    self._inner[-1] += spent

        return timed

    def install(self) -> list[str]:
        """Wrap every part this checkout has; returns the labels of those it lacks."""
        missing = []
        for label, module_name, attribute in PARTS:
            try:
                owner: Any = importlib.import_module(module_name)
                *path, name = attribute.split(".")
                for step in path:
                    owner = getattr(owner, step)
                setattr(owner, name, self.wrap(label, getattr(owner, name)))
            except (ImportError, AttributeError):
                missing.append(label)
        return missing

    def install_recognizers(self, detector: Any) -> int:
        """Time each recognizer of the rules apart (its spans gathered in a list, so a generator's work is
        counted where it runs); returns how many were found behind ``detector`` (a policy's wrapper, the
        ensemble, the rules)."""
        while not hasattr(detector, "recognizers"):
            detector = getattr(detector, "inner", None) or getattr(detector, "rules", None)
            if detector is None:
                return 0
        for recognizer in detector.recognizers:
            find = recognizer.find
            label = f"  rules: {type(recognizer).__name__}"
            object.__setattr__(recognizer, "find", self.wrap(label, lambda doc, find=find: list(find(doc))))
        return len(detector.recognizers)


def model_work(detector: Any, texts: list[str]) -> dict[str, float]:
    """Per text: the detector model's tokens, its windows, and the tokens it runs (specials and overlaps
    included); empty when the detector has no windowed token model."""
    while detector is not None and not hasattr(detector, "models"):
        detector = getattr(detector, "inner", None)
    models = [m for m in getattr(detector, "models", ()) if hasattr(m, "_windows")]
    if not models or not texts:
        return {}
    model = models[0]
    encodings = model.tokenizer.encode_batch(texts, add_special_tokens=False)
    windows = [model._windows(0, len(e.ids)) for e in encodings]
    specials = len(model._prefix) + len(model._suffix)
    return {
        "tokens": sum(len(e.ids) for e in encodings) / len(texts),
        "windows": sum(len(w) for w in windows) / len(texts),
        "tokens_run": sum(w.end - w.start + specials for ws in windows for w in ws) / len(texts),
    }


def measure(scenario: str, messages: int, step: int, rules: bool = False) -> dict[str, Any]:
    """One measurement in this process (the checkout on ``sys.path`` is the one measured)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from throughput import make_inputs  # bench/ is not a package

    from pipeline.config import Settings
    from pipeline.core.crypto.keyring import Keyring
    from pipeline.core.messages import InboundMessage
    from pipeline.runtime.assembly import build_processor

    os.environ.setdefault("PHI_INFERENCE_THREADS", "1")
    clock = PartClock()
    missing = clock.install()
    keyring = Keyring.generate()
    processor = build_processor(Settings.from_env(), keyring)
    if rules:
        clock.install_recognizers(processor.detector)
    inputs = make_inputs(keyring, processor.registry, messages + step, scenario == "notes", seed=1)
    batch = [
        InboundMessage(i.value, i.key, tuple(i.headers), "phi.ingest", 0, offset, None)
        for offset, i in enumerate(inputs)
    ]
    processor.process_batch(batch[:step])  # warm-up: first runs of the model sessions, lazy tables
    clock.seconds.clear()
    started = time.process_time()
    for first in range(step, len(batch), step):
        processor.process_batch(batch[first : first + step])
    total = time.process_time() - started
    texts = [
        text
        for i in inputs[step:]
        for text in processor.deidentifier.open(dict(i.headers)["phi-schema"].decode(), i.value, i.message_id).texts
    ]
    import pipeline

    return {
        "checkout": str(Path(pipeline.__file__).resolve().parent.parent),
        "messages": messages,
        "mean_value_bytes": round(sum(len(i.value) for i in inputs[step:]) / messages),
        "cpu_ms_per_msg": 1000 * total / messages,
        "parts_ms_per_msg": {label: 1000 * s / messages for label, s in clock.seconds.items()},
        "missing_parts": missing,
        "text_chars": sum(len(t) for t in texts) / messages,
        "model_work_per_msg": model_work(processor.detector, texts),
    }


def child(checkout: Path, args: argparse.Namespace) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--child", "--scenario", args.scenario, "--messages", str(args.messages)]
    env = {**os.environ, "PYTHONPATH": str(checkout), "PHI_LOG_LEVEL": "WARNING"}
    argv += ["--step", str(args.step), *(["--rules"] if args.rules else [])]
    done = subprocess.run(argv, env=env, cwd=checkout, capture_output=True, check=False)
    if done.returncode != 0:
        sys.exit(f"measuring {checkout} failed:\n{done.stderr.decode()[-3000:]}")
    return json.loads(done.stdout.decode().strip().splitlines()[-1])


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    labels = {label for run in runs for label in run["parts_ms_per_msg"]}
    return {
        **runs[-1],
        "cpu_ms_per_msg": statistics.median(r["cpu_ms_per_msg"] for r in runs),
        "runs_cpu_ms_per_msg": [round(r["cpu_ms_per_msg"], 2) for r in runs],
        "parts_ms_per_msg": {
            label: statistics.median(r["parts_ms_per_msg"].get(label, 0.0) for r in runs) for label in labels
        },
    }


def print_table(results: dict[str, dict[str, Any]]) -> None:
    names = list(results)
    print(f"{'part':<52}" + "".join(f"{n + ' ms':>14}{'%':>6}" for n in names))
    recognizers = sorted(
        {label for r in results.values() for label in r["parts_ms_per_msg"] if label.startswith("  rules: ")},
        key=lambda label: -max(r["parts_ms_per_msg"].get(label, 0.0) for r in results.values()),
    )
    order = [label for label, _, _ in PARTS]
    rules_at = order.index("rules: recognizers and vetting") + 1
    for label in order[:rules_at] + recognizers + order[rules_at:]:
        if all(label not in r["parts_ms_per_msg"] for r in results.values()):
            continue
        row = f"{label:<52}"
        for r in results.values():
            ms = r["parts_ms_per_msg"].get(label)
            row += f"{'-':>14}{'':>6}" if ms is None else f"{ms:>14.3f}{100 * ms / r['cpu_ms_per_msg']:>6.1f}"
        print(row)
    print(
        f"{'sum of the parts':<52}"
        + "".join(f"{sum(r['parts_ms_per_msg'].values()):>14.3f}{'':>6}" for r in results.values())
    )
    print(
        f"{'process CPU per message':<52}" + "".join(f"{r['cpu_ms_per_msg']:>14.3f}{'':>6}" for r in results.values())
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("notes", "structured"), default="notes")
    parser.add_argument("--messages", type=int, default=128)
    parser.add_argument("--step", type=int, default=16, help="messages per process_batch call (PHI_BATCH_STEP)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds; the median per part is kept")
    parser.add_argument("--baseline", type=Path, help="another checkout measured the same way, in turn")
    parser.add_argument("--out", default="cpu-split.json", help="file name under bench/results/")
    parser.add_argument("--rules", action="store_true", help="each recognizer of the rules apart")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.scenario, args.messages, args.step, args.rules)))
        return
    checkouts = {"this": ROOT, **({"baseline": args.baseline.resolve()} if args.baseline else {})}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in checkouts}
    for round_ in range(args.rounds):
        for name, checkout in checkouts.items():
            runs[name].append(child(checkout, args))
            print(f"round {round_ + 1}, {name}: {runs[name][-1]['cpu_ms_per_msg']:.2f} ms CPU per message", flush=True)
    results = {name: median_run(r) for name, r in runs.items()}
    load = os.getloadavg()
    first = next(iter(results.values()))
    print(
        f"\n{args.scenario}: {args.messages} messages of {first['mean_value_bytes']} bytes, steps of {args.step}, "
        f"median of {args.rounds} rounds; load average {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}"
    )
    for name, r in results.items():
        work = r.get("model_work_per_msg") or {}
        if work:
            print(
                f"{name}: {r['text_chars']:.0f} characters of text per message; the detector model's "
                f"{work['tokens']:.0f} tokens in {work['windows']:.2f} windows, {work['tokens_run']:.0f} tokens run"
            )
    print()
    print_table(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    report = {"arguments": {k: str(v) for k, v in vars(args).items()}, "load_average": load, "results": results}
    (RESULTS / args.out).write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS / args.out}")


if __name__ == "__main__":
    main()
