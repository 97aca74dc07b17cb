"""How throughput grows with worker processes: 1, 2 and 4 pipeline workers on 4 and 8 partitions.

For each partition count and worker count, on the embedded broker with fresh topics: start the workers
in one consumer group (each with ``--threads`` inference threads; default cores / workers, at least
one), wait until the group has settled (every worker holds partitions, all are held, nothing moves
for 3 s), produce a backlog and time its drain from the first to the last output (messages per
second), with the workers' CPU per message. Speed-up is against one worker on the same partitions, in the same run.

A worker is one Kafka consumer: it never takes more than the partitions it is given, so workers beyond
the partition count sit idle, and a worker process uses one core for Python (the GIL) plus the model
runtime's threads. On a machine with fewer cores than workers the extra workers only share the same
cores: the table then shows the cost of the group (rebalancing, more connections, more processes on
the same cores), not the scaling a real cluster with a core per worker would see.

Prints a table and writes bench/results/scaleout.json.

    .venv/bin/python bench/scaleout.py [--scenario structured|notes] [--records 4000] [--workers 1,2,4]
        [--partitions 4,8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from throughput import RESULTS, ROOT, drain, make_inputs, scenario_settings, stop_consumers

from pipeline.core.crypto.keyring import Keyring
from pipeline.core.schemas import SchemaRegistry
from pipeline.interfaces.embedded_broker import EmbeddedBroker


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("structured", "notes"), default="structured")
    parser.add_argument("--records", type=int, default=None, help="backlog (default 4000 structured, 300 notes)")
    parser.add_argument("--workers", default="1,2,4", help="worker counts to run")
    parser.add_argument("--partitions", default="4,8", help="partition counts to run")
    parser.add_argument("--threads", type=int, default=0, help="inference threads per worker (0: cores / workers)")
    args = parser.parse_args()
    records = args.records or (300 if args.scenario == "notes" else 4000)
    keyring = Keyring.generate()
    registry = SchemaRegistry.load(ROOT / "schemas")
    backlog = make_inputs(keyring, registry, records, args.scenario == "notes", seed=3)
    workdir = Path(tempfile.mkdtemp(prefix="phi-scaleout-"))
    rows = []
    with EmbeddedBroker(log_path=workdir / "tansu.log") as broker:
        base = broker.client_settings(keyring.to_json())
        for partitions in (int(p) for p in args.partitions.split(",")):
            for workers in (int(w) for w in args.workers.split(",")):
                tag = f"scale-{args.scenario}-p{partitions}-w{workers}"
                settings = scenario_settings(base, tag, workdir).with_overrides(partitions=partitions)
                print(f"running {tag} ({records} backlog) ...", flush=True)
                started = time.monotonic()
                figures, processes = drain(settings, "pipeline", backlog, workdir / f"{tag}.log", workers, args.threads)
                stop_consumers(processes)
                row = {"partitions": partitions, "workers": workers, **figures}
                row["wall_s"] = time.monotonic() - started
                rows.append(row)
                print(f"  {row['msgs_per_s']:.0f} msgs/s, {row['cpu_ms_per_msg']:.2f} ms CPU per message", flush=True)
    for row in rows:
        one = next(r for r in rows if r["partitions"] == row["partitions"] and r["workers"] == 1)
        row["speedup"] = row["msgs_per_s"] / one["msgs_per_s"]
    header = f"{'partitions':>10} {'workers':>7} {'msgs/s':>8} {'speed-up':>8} {'CPU ms/msg':>10}"
    print(f"\n{args.scenario}, {records} records, {os.cpu_count()} cores\n" + header + "\n" + "-" * len(header))
    for row in rows:
        print(
            f"{row['partitions']:>10} {row['workers']:>7} {row['msgs_per_s']:>8.0f} {row['speedup']:>7.2f}x "
            f"{row['cpu_ms_per_msg']:>10.3f}"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "arguments": vars(args),
        "records": records,
        "results": rows,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    path = RESULTS / f"scaleout-{args.scenario}.json"
    path.write_text(json.dumps(out, indent=2))
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
