"""Pipeline throughput, latency and cost beside raw-Kafka and faust pass-throughs, in one run.

For each scenario (structured-only records; records with notes of discharge-summary length) and each
consumer (the full pipeline worker, a raw aiokafka pass-through, a faust pass-through), on the embedded
broker, with fresh topics each time:

1. a backlog of N signed records is produced, the consumer process(es) started, and the drain rate is
   measured from the first to the last output's timestamp (messages per second), with the consumers'
   CPU seconds per message over the same stretch (all threads, and the main thread's alone: the event
   loop with faust's consumer and the producer, while processing runs in executor threads) and their
   peak RSS;
2. then records are produced at a steady rate the pipeline sustains, and end-to-end latency (input
   send time to output create time) is recorded: p50 and p99, and whether the consumer kept up (the
   last fifth of the paced records waited no longer than the first fifth, within a second).

``--repeat`` runs every consumer that many times in turn and reports the median rate (the machine is
shared: single drains differ by a third); ``--workers`` starts that many pipeline worker processes in
one consumer group (each with ``cores / workers`` inference threads). The paced rate of a scenario is
``--rate`` / ``--notes-rate``, or with ``auto`` half the pipeline's median drain rate in the same run
(the pipeline then runs first). The pipeline's rate is reported as a fraction of both pass-throughs.
Prints a table and writes bench/results/pipeline.json.

    .venv/bin/python bench/throughput.py [--structured 3000] [--notes 1000] [--paced 150] [--rate 50]
        [--notes-rate auto] [--repeat 1] [--workers 1] [--scenarios structured,notes]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
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
MODES = {  # the pipeline first: an automatic paced rate is half its drain rate
    "pipeline": [sys.executable, "-m", "pipeline.interfaces.cli", "worker"],
    "raw": [sys.executable, str(ROOT / "bench" / "passthrough.py"), "raw"],
    "faust": [sys.executable, str(ROOT / "bench" / "passthrough.py"), "faust"],
}
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
#: ``--baseline DIR``: the pipeline worker of another checkout (say, main's), run beside this one's.
BASELINE: dict[str, Path] = {}
#: ``--worker-env NAME=VALUE``: settings for this checkout's pipeline workers only (not the baseline's).
WORKER_ENV: dict[str, str] = {}


def command(mode: str) -> tuple[list[str], dict[str, str]]:
    """The consumer's command line and extra environment (a baseline worker imports its own checkout)."""
    if mode == "baseline":
        return MODES["pipeline"], {"PYTHONPATH": str(BASELINE["dir"])}
    return MODES[mode], {}


def cpu_seconds(pid: int, thread: int | None = None) -> float:
    """CPU seconds of a process, or of one of its threads (the main thread, ``thread=pid``, runs the event
    loop: faust's consumer, the producer, acknowledgements; the processing runs in executor threads)."""
    stat = Path(f"/proc/{pid}/stat" if thread is None else f"/proc/{pid}/task/{thread}/stat")
    fields = stat.read_text().rsplit(")", 1)[1].split()
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


def latency_phase(settings: Settings, inputs: list[SignedInput], rate: float) -> tuple[list[float], bool]:
    """Latencies in ms, sorted, and whether the consumer kept up: the last fifth of the records (in send
    order) waited no more than a second longer than the first fifth."""
    wanted = {i.message_id for i in inputs}

    def done(found: list[Consumed]) -> bool:
        return wanted <= {message_id(m) for m in found}

    async def both() -> tuple[list[Consumed], dict[str, float]]:
        sent_task = asyncio.create_task(paced(settings, inputs, rate))
        found = await consume(settings, outcome_topics(settings), until=done, timeout=60 + 2 * len(inputs) / rate)
        return found, await sent_task

    found, sent = asyncio.run(both())
    by_id = {message_id(m): m.timestamp_ms - sent[message_id(m)] for m in found if message_id(m) in sent}
    in_order = [by_id[i.message_id] for i in inputs if i.message_id in by_id]
    fifth = max(1, len(in_order) // 5)
    kept_up = len(in_order) == len(inputs) and (
        statistics.median(in_order[-fifth:]) <= statistics.median(in_order[:fifth]) + 1000
    )
    return sorted(by_id.values()), kept_up


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assigned_partitions(port: int) -> int | None:
    """Partitions a worker holds, from its /readyz (None while it has none or is not up)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
            words = response.read().decode().split()
    except (urllib.error.URLError, OSError):
        return None
    return int(words[1]) if len(words) >= 2 and words[0] == "ready:" and words[1].isdigit() else None


def start_consumers(
    settings: Settings, mode: str, workers: int, log: Path, threads: int = 0
) -> tuple[list[subprocess.Popen[bytes]], list[int]]:
    """``workers`` processes of ``mode`` in one consumer group; pipeline workers get a metrics port each
    (returned) and ``threads`` inference threads (0: cores / workers)."""
    processes, ports = [], []
    for _ in range(workers):
        env = {**os.environ, **settings_to_env(settings), "PHI_LOG_LEVEL": "WARNING"}
        argv, extra = command(mode)
        env.update(extra)
        if mode == "baseline":  # settings this checkout added would be refused there as unknown
            declared = (BASELINE["dir"] / "pipeline" / "config.py").read_text()
            env = {k: v for k, v in env.items() if not k.startswith("PHI_") or f"    {k[4:].lower()}:" in declared}
            # and its own files (its default schemas and models): this checkout's may have changed in ways it
            # cannot read (a new schema tag, a model folder of another kind)
            env = {k: v for k, v in env.items() if not (k.startswith("PHI_") and v.startswith(str(ROOT)))}
        if mode in ("pipeline", "baseline"):
            ports.append(free_port())
            env["PHI_METRICS_PORT"] = str(ports[-1])
            env["PHI_INFERENCE_THREADS"] = str(threads or max(1, (os.cpu_count() or 1) // workers))
        if mode == "pipeline":
            env.update(WORKER_ENV)
        with log.open("ab") as out:
            cwd = BASELINE["dir"] if mode == "baseline" else None
            processes.append(subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd))
    return processes, ports


def outcome_topics(settings: Settings) -> list[str]:
    """Where a pipeline input ends: a de-identified record (redacted, or restricted by the sensitive-category
    policy) or a dead letter. A pass-through writes only to the redacted topic."""
    return [settings.topic_redacted, settings.topic_restricted, settings.topic_deadletter]


def wait_for_group(
    processes: list[subprocess.Popen[bytes]], ports: list[int], partitions: int, log: Path, timeout: float = 240
) -> None:
    """Until every worker holds partitions, all of them are held, and that has not changed for 3 s (the
    group has settled: no rebalance will move them during the drain)."""
    deadline = time.monotonic() + timeout
    stable_since, last = None, None
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"a worker exited early; see {log}")
        held = [assigned_partitions(port) for port in ports]
        settled = all(h for h in held) and sum(h or 0 for h in held) == partitions
        if settled and held == last:
            stable_since = stable_since or time.monotonic()
            if time.monotonic() - stable_since >= 3:
                return
        else:
            stable_since = None
        last = held
        time.sleep(0.5)
    raise RuntimeError(f"the consumer group did not settle in {timeout:.0f} s (partitions held: {last}); see {log}")


def stop_consumers(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def drain(
    settings: Settings, mode: str, backlog: list[SignedInput], log: Path, workers: int = 1, threads: int = 0
) -> tuple[dict[str, float], list[subprocess.Popen[bytes]]]:
    """Start the consumers, wait until a warm-up record has gone through (group joined, models loaded)
    and, with several workers, until the group has settled; then produce the backlog and time its drain.
    Returns the figures and the consumers, still running (stop them with :func:`stop_consumers`)."""
    asyncio.run(ensure_topics(settings))
    processes, ports = start_consumers(settings, mode, workers, log, threads)

    def alive(_: list[Consumed]) -> bool:
        if any(p.poll() is not None for p in processes):
            raise RuntimeError(f"{mode} exited early; see {log}")
        return False

    try:
        warm = backlog[0]
        asyncio.run(produce(settings, settings.topic_ingest, [Outgoing(warm.key, warm.value, warm.headers)]))
        asyncio.run(consume(settings, outcome_topics(settings), until=lambda f: alive(f) or len(f) >= 1, timeout=180))
        if workers > 1:
            wait_for_group(processes, ports, settings.partitions, log)
        cpu_start = sum(cpu_seconds(p.pid) for p in processes)
        loop_start = sum(cpu_seconds(p.pid, p.pid) for p in processes)
        rest = backlog[1:]
        asyncio.run(produce(settings, settings.topic_ingest, [Outgoing(i.key, i.value, i.headers) for i in rest]))
        found = asyncio.run(
            consume(settings, outcome_topics(settings), until=lambda f: alive(f) or len(f) >= len(backlog), timeout=900)
        )
        cpu_used = sum(cpu_seconds(p.pid) for p in processes) - cpu_start
        loop_used = sum(cpu_seconds(p.pid, p.pid) for p in processes) - loop_start
    except BaseException:
        stop_consumers(processes)
        raise
    stamps = sorted(m.timestamp_ms for m in found[1:])
    seconds = (stamps[-1] - stamps[0]) / 1000 or 1e-3
    return {
        "messages": len(found) - 1,
        "msgs_per_s": (len(stamps) - 1) / seconds,
        "cpu_ms_per_msg": 1000 * cpu_used / len(rest),
        "loop_cpu_ms_per_msg": 1000 * loop_used / len(rest),
    }, processes


def run_one(
    settings: Settings,
    mode: str,
    backlog: list[SignedInput],
    paced_inputs: list[SignedInput],
    rate: Callable[[float], float] | None,
    log: Path,
    workers: int = 1,
) -> dict[str, float]:
    """The drain, then, when ``rate`` is given, the paced latency phase at ``rate(drain rate)``."""
    # The baseline worker runs as many processes as this checkout's, so before and after compare alike.
    figures, processes = drain(settings, mode, backlog, log, workers if mode in ("pipeline", "baseline") else 1)
    try:
        if rate is not None:
            rate_now = rate(figures["msgs_per_s"])
            latencies, kept_up = latency_phase(settings, paced_inputs, rate_now)
            figures.update(
                paced_rate=rate_now,
                p50_ms=statistics.median(latencies),
                p99_ms=latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
                kept_up=kept_up,
            )
        figures["peak_rss_mb"] = sum(peak_rss_mb(p.pid) for p in processes)
    finally:
        stop_consumers(processes)
    return figures


def scenario_settings(base: Settings, tag: str, workdir: Path) -> Settings:
    return base.with_overrides(
        group_id=f"bench-{tag}",
        data_dir=workdir / tag,
        **{
            f"topic_{t}": f"bench.{tag}.{t}"
            for t in ("ingest", "redacted", "summaries", "audit", "deadletter", "restricted")
        },
    )


def paced_rate(rate_arg: str, pipeline_rates: list[float]) -> float:
    """The steady rate: as given, or (``auto``) half the pipeline's median drain rate in this run."""
    if rate_arg != "auto":
        return float(rate_arg)
    return max(1.0, round(statistics.median(pipeline_rates) / 2)) if pipeline_rates else 10.0


def combine(runs: list[dict[str, float]]) -> dict[str, float]:
    """Median rate and CPU over the runs, every run's rate, and the last run's latency figures."""
    last = runs[-1]
    return {
        **last,
        "msgs_per_s": statistics.median(r["msgs_per_s"] for r in runs),
        "cpu_ms_per_msg": statistics.median(r["cpu_ms_per_msg"] for r in runs),
        "loop_cpu_ms_per_msg": statistics.median(r.get("loop_cpu_ms_per_msg", float("nan")) for r in runs),
        "runs_msgs_per_s": [round(r["msgs_per_s"], 1) for r in runs],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--structured", type=int, default=3000, help="backlog size, structured records")
    parser.add_argument("--notes", type=int, default=1000, help="backlog size, records with notes")
    parser.add_argument("--paced", type=int, default=150, help="records sent at a steady rate for latency")
    parser.add_argument("--rate", default="50", help="steady rate for structured records per second, or auto")
    parser.add_argument("--notes-rate", default="auto", help="steady rate for records with notes, or auto")
    parser.add_argument("--repeat", type=int, default=1, help="drains per consumer (median reported)")
    parser.add_argument("--workers", type=int, default=1, help="pipeline worker processes in the group")
    parser.add_argument("--scenarios", default="structured,notes")
    parser.add_argument("--modes", default="pipeline,raw,faust", help="consumers to run (pipeline first)")
    parser.add_argument("--out", default="pipeline.json", help="file name under bench/results/")
    parser.add_argument(
        "--no-classifier",
        action="store_true",
        help="workers without the sensitive-category classifier (PHI_SENSITIVE_CLASSIFIER=false), to see its cost",
    )
    parser.add_argument("--baseline", type=Path, help="another checkout whose pipeline worker runs beside this one")
    parser.add_argument(
        "--worker-env",
        action="append",
        default=[],
        metavar="PHI_NAME=VALUE",
        help="a setting for this checkout's pipeline workers only, to try a value beside the baseline (repeatable)",
    )
    args = parser.parse_args()
    WORKER_ENV.update(item.split("=", 1) for item in args.worker_env)
    if args.baseline:
        BASELINE["dir"] = args.baseline.resolve()
    keyring = Keyring.generate()
    registry = SchemaRegistry.load(ROOT / "schemas")
    workdir = Path(tempfile.mkdtemp(prefix="phi-bench-"))
    results: dict[str, dict[str, dict[str, float]]] = {}
    scenarios = {"structured": (args.structured, False, args.rate), "notes": (args.notes, True, args.notes_rate)}
    modes = [m for m in (*MODES, "baseline") if m in args.modes.split(",") or (m == "baseline" and args.baseline)]
    with EmbeddedBroker(log_path=workdir / "tansu.log") as broker:
        base = broker.client_settings(keyring.to_json(), sensitive_classifier=not args.no_classifier)
        for scenario in args.scenarios.split(","):
            count, notes, rate_arg = scenarios[scenario]
            backlog = make_inputs(keyring, registry, count, notes, seed=1)
            paced_inputs = make_inputs(keyring, registry, args.paced, notes, seed=2)
            runs: dict[str, list[dict[str, float]]] = {m: [] for m in modes}
            for round_ in range(args.repeat):
                last = round_ == args.repeat - 1
                for mode in modes:
                    earlier = [r["msgs_per_s"] for r in runs.get("pipeline", [])]
                    rate = None
                    if last:  # the latency phase once per consumer, at the same rate for all (auto: from the pipeline)

                        def rate(
                            own: float, earlier: list[float] = earlier, mode: str = mode, given: str = rate_arg
                        ) -> float:
                            return paced_rate(given, earlier + ([own] if mode == "pipeline" else []))

                    tag = f"{scenario}-{mode}-{round_}"
                    print(
                        f"running {tag} ({count} backlog"
                        + (f", then {args.paced} paced at {rate_arg}/s" if last else "")
                        + (f", {args.workers} workers" if mode in ("pipeline", "baseline") and args.workers > 1 else "")
                        + ") ...",
                        flush=True,
                    )
                    settings = scenario_settings(base, tag, workdir)
                    runs[mode].append(
                        run_one(settings, mode, backlog, paced_inputs, rate, workdir / f"{tag}.log", args.workers)
                    )
                    print(f"  {runs[mode][-1]['msgs_per_s']:.0f} msgs/s", flush=True)
            results[scenario] = {mode: combine(r) for mode, r in runs.items()}
    report(results, args)


LABELS = {"raw": "raw pass-through", "faust": "faust pass-through", "baseline": "the baseline worker"}


def report(results: dict[str, dict[str, dict[str, float]]], args: argparse.Namespace) -> None:
    header = (
        f"{'scenario':<11} {'consumer':<9} {'msgs/s':>8} {'paced/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'kept up':>7} "
        f"{'CPU ms/msg':>11} {'loop ms/msg':>11} {'RSS MB':>7}"
    )
    print(f"\nload average (1, 5, 15 min) at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(header + "\n" + "-" * len(header))
    for scenario, modes in results.items():
        for mode, r in modes.items():
            print(
                f"{scenario:<11} {mode:<9} {r['msgs_per_s']:>8.0f} {r['paced_rate']:>8.0f} {r['p50_ms']:>8.1f} "
                f"{r['p99_ms']:>8.1f} {'yes' if r['kept_up'] else 'NO':>7} {r['cpu_ms_per_msg']:>11.3f} "
                f"{r['loop_cpu_ms_per_msg']:>11.3f} {r['peak_rss_mb']:>7.0f}"
            )
    ratios = {
        scenario: {
            f"pipeline_vs_{other}": modes["pipeline"]["msgs_per_s"] / modes[other]["msgs_per_s"]
            for other in ("raw", "faust", "baseline")
            if "pipeline" in modes and other in modes
        }
        for scenario, modes in results.items()
    }
    print()
    for scenario, r in ratios.items():
        print(
            f"{scenario}: pipeline rate = "
            + ", ".join(f"{v:.2f} x {LABELS[k.removeprefix('pipeline_vs_')]}" for k, v in r.items())
            + f" (median of {args.repeat} drains each; runs: "
            + "; ".join(f"{m} {results[scenario][m]['runs_msgs_per_s']}" for m in results[scenario])
            + ")"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "arguments": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "results": results,
        "ratios": ratios,
        "load_average": os.getloadavg(),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (RESULTS / args.out).write_text(json.dumps(out, indent=2))
    print(f"\nwrote {RESULTS / args.out}")


if __name__ == "__main__":
    main()
