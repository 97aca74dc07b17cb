"""Where a pipeline worker spends its time: py-spy samples a real worker draining a backlog.

Starts the embedded broker, produces a backlog of signed records, runs ``phi-pipeline worker`` under
``py-spy record`` (folded stacks, threads included) for a fixed time, and prints the functions with
the most samples, by own time and by time including callees, as shares of all samples. Writes
bench/results/profile-<scenario>.json and the raw folded stacks beside it.

    .venv/bin/pip install py-spy   # a profiling tool, not a dependency
    .venv/bin/python bench/profile_worker.py [--scenario structured|notes] [--records 6000] [--seconds 15]
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
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import make_inputs  # bench/ is not a package

from pipeline.config import settings_to_env
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.schemas import SchemaRegistry
from pipeline.interfaces.embedded_broker import EmbeddedBroker
from pipeline.stream.admin import ensure_topics
from pipeline.stream.clients import Outgoing, produce

ROOT = Path(__file__).resolve().parent.parent


def summarize(folded: Path, top: int) -> dict[str, list[tuple[str, float]]]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
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
    share = lambda c: [(name, round(100 * n / max(total, 1), 1)) for name, n in c.most_common(top)]  # noqa: E731
    return {"samples": total, "own_percent": share(own), "inclusive_percent": share(inclusive)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", choices=("structured", "notes"), default="structured")
    parser.add_argument("--records", type=int, default=6000)
    parser.add_argument("--seconds", type=int, default=15)
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
    folded = results / f"profile-{args.scenario}.folded"
    with EmbeddedBroker(log_path=workdir / "tansu.log") as broker:
        settings = broker.client_settings(keyring.to_json(), data_dir=workdir / "worker")
        asyncio.run(ensure_topics(settings))
        asyncio.run(produce(settings, settings.topic_ingest, [Outgoing(i.key, i.value, i.headers) for i in inputs]))
        env = {**os.environ, **settings_to_env(settings), "PHI_LOG_LEVEL": "WARNING"}
        command = [
            pyspy,
            "record",
            "--format",
            "raw",
            "--threads",
            "--rate",
            "200",
            "--duration",
            str(args.seconds),
            "-o",
            str(folded),
            "--",
            sys.executable,
            "-m",
            "pipeline.interfaces.cli",
            "worker",
        ]
        with (workdir / "worker.log").open("wb") as log:
            subprocess.run(command, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=args.seconds + 60)
    report = summarize(folded, args.top)
    print(f"{report['samples']} samples over {args.seconds} s ({args.scenario}, backlog {args.records})\n")
    print(f"{'own %':>6}  function")
    for name, pct in report["own_percent"]:
        print(f"{pct:>6}  {name}")
    print(f"\n{'incl %':>6}  function (with callees)")
    for name, pct in report["inclusive_percent"]:
        print(f"{pct:>6}  {name}")
    (results / f"profile-{args.scenario}.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
