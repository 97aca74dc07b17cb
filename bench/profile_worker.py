"""Where a consumer's time goes while it drains a backlog: py-spy samples a real worker (or a pass-through).

Starts the embedded broker, starts the consumer (``phi-pipeline worker``, or the faust pass-through of
``throughput.py``) as the benchmark does, waits until a warm-up record has gone through (group joined,
models loaded), then attaches ``py-spy record`` to it (folded stacks, threads included, idle excluded:
samples count CPU) and produces a backlog large enough to keep it busy for the whole window. Start-up
(imports, model sessions) is never in the profile.

Prints the functions with the most samples (own and with callees) and a breakdown by what the time is
for (faust's consumer machinery, sending, each pipeline stage, the event loop), as shares of all
samples, and per message when the drain rate is known. Writes bench/results/profile-<scenario>[-<consumer>].json
and the raw folded stacks beside it.

    .venv/bin/pip install py-spy   # a profiling tool, not a dependency
    .venv/bin/python bench/profile_worker.py [--scenario structured|notes] [--consumer pipeline|faust]
                                             [--records 20000] [--seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import MODES, make_inputs  # bench/ is not a package

from pipeline.config import settings_to_env
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.schemas import SchemaRegistry
from pipeline.interfaces.embedded_broker import EmbeddedBroker
from pipeline.stream.admin import ensure_topics
from pipeline.stream.clients import Consumed, Outgoing, consume, produce

ROOT = Path(__file__).resolve().parent.parent

#: What a sample's time is for: the first category (in this order, most specific first) with a frame
#: anywhere in the stack that matches one of its needles (``function (path:line)``). A pipeline stage
#: wins over the worker thread that runs it, sending over the faust agent that calls it, and the event
#: loop's own frames count only when nothing more specific is on the stack.
CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("detect (model and rules)", ("onnx_recognizer.py", "pipeline/core/detection/", "runtime/detectors.py")),
    ("verify HMAC", ("verify_headers (",)),
    ("decode Avro", ("decode (pipeline/core/codecs.py",)),
    ("protect fields (tokens, AES-GCM)", ("protect_record (",)),
    ("audit event (chain, encode, sign)", ("audit_output (", "audit_message (", "processed_event (")),
    ("encode Avro (record)", ("encode_avro (",)),
    ("sign outputs (HMAC)", ("signed_output (",)),
    ("transform text", ("transform_text (", "KnownValueFinder", "Ensemble.merge")),
    ("other pipeline processing", ("pipeline/core/",)),
    (
        "send (producer: faust and aiokafka)",
        ("send_outputs (", "pipeline/stream/sending.py", "aiokafka/producer/", "Producer.send (", "topics.py"),
    ),
    ("metrics", ("prometheus_client/", "record_metrics (", "record_lag (", "record_batch_lag (")),
    (
        "consume (fetch, records, events, acks)",
        ("aiokafka/consumer/", "pipeline/stream/consuming.py", "faust/", "mode/"),
    ),
    ("event loop (callbacks, futures)", ("asyncio/",)),
)
#: Not work, by the innermost frame: a thread waiting for something to do (py-spy counts some waits as
#: active).
WAITING: tuple[tuple[str, str], ...] = (
    ("event loop waiting (select)", "EpollSelector.select ("),
    ("worker thread waiting", "_worker (concurrent/futures/thread.py"),
)


def categorize(stack: str) -> str:
    leaf = stack.rsplit(";", 1)[-1]
    for category, needle in WAITING:
        if leaf.startswith(needle):
            return category
    for category, needles in CATEGORIES:
        if any(n in stack for n in needles):
            return category
    return "other"


def summarize(folded: Path, top: int, rate: int, messages: int) -> dict[str, Any]:
    """Shares of all samples by function (own, with callees) and by category; with ``messages`` (outputs
    in the sampled window), microseconds of thread time per message for each category."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    categories: Counter[str] = Counter()
    total = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        frames = [f.split(" (")[0] + " " + f.split("/")[-1].rstrip(")") for f in stack.split(";")]
        total += n
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
        categories[categorize(stack)] += n
    share = lambda c: [(name, round(100 * n / max(total, 1), 1)) for name, n in c.most_common(top)]  # noqa: E731
    per_msg = lambda n: 1e6 * n / rate / max(messages, 1)  # noqa: E731
    return {
        "samples": total,
        "own_percent": share(own),
        "inclusive_percent": share(inclusive),
        "categories": [(c, round(100 * n / max(total, 1), 1), round(per_msg(n))) for c, n in categories.most_common()],
        "work_us_per_msg": round(per_msg(sum(n for c, n in categories.items() if c not in dict(WAITING)))),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("structured", "notes"), default="structured")
    parser.add_argument("--consumer", choices=("pipeline", "faust"), default="pipeline")
    parser.add_argument("--records", type=int, default=20000, help="backlog; more than the window drains")
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--rate", type=int, default=100, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(pyspy).exists():
        sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
    keyring = Keyring.generate()
    registry = SchemaRegistry.load(ROOT / "schemas")
    inputs = make_inputs(keyring, registry, args.records, args.scenario == "notes", seed=5)
    workdir = Path(tempfile.mkdtemp(prefix="phi-profile-"))
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    name = args.scenario if args.consumer == "pipeline" else f"{args.scenario}-{args.consumer}"
    folded = results / f"profile-{name}.folded"
    with EmbeddedBroker(log_path=workdir / "tansu.log") as broker:
        settings = broker.client_settings(keyring.to_json(), data_dir=workdir / "worker")
        asyncio.run(ensure_topics(settings))
        env = {**os.environ, **settings_to_env(settings), "PHI_LOG_LEVEL": "WARNING"}
        with (workdir / "worker.log").open("wb") as log:
            worker = subprocess.Popen(MODES[args.consumer], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            warm = inputs[0]
            asyncio.run(produce(settings, settings.topic_ingest, [Outgoing(warm.key, warm.value, warm.headers)]))
            asyncio.run(consume(settings, [settings.topic_redacted], until=lambda f: len(f) >= 1, timeout=180))
            spy = subprocess.Popen(
                [
                    *(pyspy, "record", "--format", "raw", "--threads", "--rate", str(args.rate)),
                    *("--duration", str(args.seconds), "--pid", str(worker.pid), "-o", str(folded)),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            rest = [Outgoing(i.key, i.value, i.headers) for i in inputs[1:]]
            started = time.time() * 1000
            asyncio.run(produce(settings, settings.topic_ingest, rest))
            spy.wait(args.seconds + 60)
        finally:
            worker.terminate()
            worker.wait(30)
        found: list[Consumed] = asyncio.run(consume(settings, [settings.topic_redacted], timeout=120, idle_timeout=2))
    in_window = [m for m in found[1:] if started <= m.timestamp_ms <= started + args.seconds * 1000]
    report = summarize(folded, args.top, args.rate, len(in_window))
    report.update(scenario=args.scenario, consumer=args.consumer, seconds=args.seconds)
    report["outputs_in_window"] = len(in_window)
    print(f"{report['samples']} samples over {args.seconds} s ({name}); {len(in_window)} outputs in the window\n")
    print_report(report)
    (results / f"profile-{name}.json").write_text(json.dumps(report, indent=2))


def print_report(report: dict[str, Any]) -> None:
    print(f"{'share %':>7}  {'us/msg':>7}  what for")
    for category, pct, per_msg in report["categories"]:
        print(f"{pct:>7}  {per_msg:>7.0f}  {category}")
    print(f"{'':>7}  {report['work_us_per_msg']:>7.0f}  work per message (all but waiting)")
    print(f"\n{'own %':>6}  function")
    for fn, pct in report["own_percent"]:
        print(f"{pct:>6}  {fn}")
    print(f"\n{'incl %':>6}  function (with callees)")
    for fn, pct in report["inclusive_percent"]:
        print(f"{pct:>6}  {fn}")


if __name__ == "__main__":
    main()
