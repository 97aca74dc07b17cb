"""Pipeline throughput, latency and cost beside raw-Kafka and faust pass-throughs, in one run.

For each scenario (structured-only records; records with notes of discharge-summary length) and each
consumer (raw aiokafka pass-through, faust pass-through, the full pipeline worker), on the embedded
broker, with fresh topics each time:

1. a backlog of N signed records is produced, the consumer process is started, and the drain rate is
   measured from the first to the last output's timestamp (messages per second), with the consumer's
   CPU seconds per message over the same stretch and its peak RSS;
2. then records are produced at a steady rate well below every consumer's capacity, and end-to-end
   latency (input create time to output create time) is recorded: p50 and p99.

The pipeline's rate is reported as a fraction of both pass-throughs. Prints a table and writes
bench/results/pipeline.json.

    .venv/bin/python bench/throughput.py [--structured 3000] [--notes 1000] [--paced 150] [--rate 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiokafka import AIOKafkaProducer

from pipeline.config import Settings, settings_to_env
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.schemas import SchemaRegistry
from pipeline.devtools.inputs import SignedInput, encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces.embedded_broker import EmbeddedBroker
from pipeline.stream.admin import ensure_topics
from pipeline.stream.clients import Consumed, Outgoing, consume, produce
from pipeline.stream.kafka_options import client_options

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
MODES = {
    "raw": [sys.executable, str(ROOT / "bench" / "passthrough.py"), "raw"],
    "faust": [sys.executable, str(ROOT / "bench" / "passthrough.py"), "faust"],
    "pipeline": [sys.executable, "-m", "pipeline.interfaces.cli", "worker"],
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def make_inputs(keyring: Keyring, registry: SchemaRegistry, count: int, notes: bool, seed: int) -> list[SignedInput]:
    """Structured records, or records whose note is four synthetic notes long (about 1.5 KB)."""
    entry = registry.get("clinical_record")
    records = list(synthetic_records(count * (4 if notes else 1), seed=seed, with_notes=notes))
    inputs = []
    for i in range(count):
        if notes:
            group = records[i * 4 : i * 4 + 4]
            record = dict(group[0].record, note="\n\n".join(r.record["note"] for r in group))
        else:
            record = records[i].record
        inputs.append(signed_input(keyring, entry.ref, encode_record(entry, record, "avro"), record["record_id"]))
    return inputs


def message_id(message: Consumed) -> str:
    return dict(message.headers).get("phi-message-id", b"").decode()


async def paced(settings: Settings, inputs: list[SignedInput], rate: float) -> dict[str, float]:
    """Send at a steady rate; returns message id -> send time in ms."""
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    sent: dict[str, float] = {}
    start = time.monotonic()
    try:
        for i, item in enumerate(inputs):
            await asyncio.sleep(max(0.0, start + i / rate - time.monotonic()))
            sent[item.message_id] = time.time() * 1000
            await producer.send_and_wait(settings.topic_ingest, item.value, key=item.key, headers=item.headers)
    finally:
        await producer.stop()
    return sent


async def latency_phase(settings: Settings, inputs: list[SignedInput], rate: float) -> list[float]:
    wanted = {i.message_id for i in inputs}

    def done(found: list[Consumed]) -> bool:
        return wanted <= {message_id(m) for m in found}

    sent_task = asyncio.create_task(paced(settings, inputs, rate))
    found = await consume(settings, [settings.topic_redacted], until=done, timeout=60 + len(inputs) / rate)
    sent = await sent_task
    return sorted(m.timestamp_ms - sent[message_id(m)] for m in found if message_id(m) in sent)


def run_one(
    settings: Settings, mode: str, backlog: list[SignedInput], paced_inputs: list[SignedInput], rate: float, log: Path
) -> dict[str, float]:
    """Start the consumer, wait until a warm-up record has gone through (group joined, models loaded), then
    produce the backlog and time its drain; then the paced latency phase."""
    asyncio.run(ensure_topics(settings))
    env = {**os.environ, **settings_to_env(settings), "PHI_LOG_LEVEL": "WARNING"}
    with log.open("ab") as out:
        process = subprocess.Popen(MODES[mode], env=env, stdout=out, stderr=subprocess.STDOUT)

    def alive(_: list[Consumed]) -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"{mode} exited early; see {log}")
        return False

    try:
        warm = backlog[0]
        asyncio.run(produce(settings, settings.topic_ingest, [Outgoing(warm.key, warm.value, warm.headers)]))
        asyncio.run(consume(settings, [settings.topic_redacted], until=lambda f: alive(f) or len(f) >= 1, timeout=120))
        cpu_start = cpu_seconds(process.pid)
        rest = backlog[1:]
        asyncio.run(produce(settings, settings.topic_ingest, [Outgoing(i.key, i.value, i.headers) for i in rest]))
        found = asyncio.run(
            consume(
                settings, [settings.topic_redacted], until=lambda f: alive(f) or len(f) >= len(backlog), timeout=600
            )
        )
        cpu_used = cpu_seconds(process.pid) - cpu_start
        stamps = sorted(m.timestamp_ms for m in found[1:])
        seconds = (stamps[-1] - stamps[0]) / 1000 or 1e-3
        latencies = asyncio.run(latency_phase(settings, paced_inputs, rate))
        rss = peak_rss_mb(process.pid)
    finally:
        process.terminate()
        process.wait(30)
    return {
        "messages": len(found) - 1,
        "msgs_per_s": (len(stamps) - 1) / seconds,
        "cpu_ms_per_msg": 1000 * cpu_used / len(rest),
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "peak_rss_mb": rss,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structured", type=int, default=3000, help="backlog size, structured records")
    parser.add_argument("--notes", type=int, default=1000, help="backlog size, records with notes")
    parser.add_argument("--paced", type=int, default=150, help="records sent at a steady rate for latency")
    parser.add_argument("--rate", type=float, default=50.0, help="steady rate, records per second")
    args = parser.parse_args()
    keyring = Keyring.generate()
    registry = SchemaRegistry.load(ROOT / "schemas")
    workdir = Path(tempfile.mkdtemp(prefix="phi-bench-"))
    results: dict[str, dict[str, dict[str, float]]] = {}
    with EmbeddedBroker(log_path=workdir / "tansu.log") as broker:
        base = broker.client_settings(keyring.to_json())
        for scenario, count, notes in (("structured", args.structured, False), ("notes", args.notes, True)):
            backlog = make_inputs(keyring, registry, count, notes, seed=1)
            paced_inputs = make_inputs(keyring, registry, args.paced, notes, seed=2)
            for mode in MODES:
                tag = f"{scenario}-{mode}"
                settings = base.with_overrides(
                    group_id=f"bench-{tag}",
                    data_dir=workdir / tag,
                    **{
                        f"topic_{t}": f"bench.{tag}.{t}"
                        for t in ("ingest", "redacted", "summaries", "audit", "deadletter")
                    },
                )
                print(f"running {tag} ({count} backlog, {args.paced} paced at {args.rate:.0f}/s) ...", flush=True)
                results.setdefault(scenario, {})[mode] = run_one(
                    settings, mode, backlog, paced_inputs, args.rate, workdir / f"{tag}.log"
                )
    report(results, args)


def report(results: dict[str, dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    header = (
        f"{'scenario':<11} {'consumer':<9} {'msgs/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms/msg':>11} {'RSS MB':>7}"
    )
    print("\n" + header + "\n" + "-" * len(header))
    for scenario, modes in results.items():
        for mode, r in modes.items():
            print(
                f"{scenario:<11} {mode:<9} {r['msgs_per_s']:>8.0f} {r['p50_ms']:>8.1f} {r['p99_ms']:>8.1f} "
                f"{r['cpu_ms_per_msg']:>11.3f} {r['peak_rss_mb']:>7.0f}"
            )
    ratios = {
        scenario: {
            "pipeline_vs_raw": modes["pipeline"]["msgs_per_s"] / modes["raw"]["msgs_per_s"],
            "pipeline_vs_faust": modes["pipeline"]["msgs_per_s"] / modes["faust"]["msgs_per_s"],
        }
        for scenario, modes in results.items()
    }
    print()
    for scenario, r in ratios.items():
        print(
            f"{scenario}: pipeline rate = {r['pipeline_vs_raw']:.2f} x raw pass-through, "
            f"{r['pipeline_vs_faust']:.2f} x faust pass-through"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "arguments": vars(args),
        "results": results,
        "ratios": ratios,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (RESULTS / "pipeline.json").write_text(json.dumps(out, indent=2))
    print(f"\nwrote {RESULTS / 'pipeline.json'}")


if __name__ == "__main__":
    main()
