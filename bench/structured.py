"""CPU per structured record in the worker's processing, without Kafka: this checkout beside another.

The worker's envelope (:class:`~pipeline.core.processing.RecordProcessor`, built as the worker builds it)
processes the structured records of ``throughput.py`` (``clinical_record``, no notes) in batches of 64:
verify, decode, protect the tagged fields (tokens, envelope encryption), render and encode the
de-identified record, chain, encode and sign the audit event. ``time.process_time`` per record, the
best of ``--repeats`` passes; the checkouts run in turn in processes of their own, ``--rounds`` times,
and the best of each is reported (a shared machine slows some passes; the best is the code's cost).

    .venv/bin/python bench/structured.py [--baseline DIR ...] [--records 1000] [--rounds 3] [--repeats 5]

``--baseline`` may be given more than once (each checkout measured in turn, named by its folder).

Writes ``bench/results/structured.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

_CHILD = """
import sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from throughput import make_inputs
from pipeline.config import Settings
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.messages import InboundMessage
from pipeline.core.schemas import SchemaRegistry
from pipeline.runtime.assembly import build_processor

keyring = Keyring.generate()
registry = SchemaRegistry.load(Path("schemas"))
inputs = make_inputs(keyring, registry, {records}, False, seed=1)
settings = Settings.from_env({{"PHI_KEYRING": keyring.to_json()}}, schema_dir=Path("schemas"))
processor = build_processor(settings, keyring)
messages = [InboundMessage(i.value, i.key, tuple(i.headers), "in", 0, n) for n, i in enumerate(inputs)]
processor.process_batch(messages[:64])
best = float("inf")
for _ in range({repeats}):
    start = time.process_time()
    for s in range(0, len(messages), 64):
        results = processor.process_batch(messages[s : s + 64])
        assert all(r.outcome == "ok" for r in results)
    best = min(best, time.process_time() - start)
print(1e6 * best / len(messages))
"""


def measure(checkout: Path, records: int, repeats: int) -> float:
    """Microseconds of CPU per record in ``checkout``'s code (a process of its own)."""
    code = _CHILD.format(bench=str(ROOT / "bench"), records=records, repeats=repeats)
    env = {**os.environ, "PYTHONPATH": str(checkout), "PHI_LOG_LEVEL": "WARNING"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=checkout, env=env, capture_output=True, text=True, check=True
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--baseline", type=Path, action="append", default=[], help="another checkout measured in turn (repeatable)"
    )
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default="structured.json", help="file name under bench/results/")
    args = parser.parse_args()
    baselines = {("baseline" if n == 0 else f"baseline {n + 1}"): b.resolve() for n, b in enumerate(args.baseline)}
    checkouts = {"this checkout": ROOT, **baselines}
    runs: dict[str, list[float]] = {name: [] for name in checkouts}
    load = [os.getloadavg()]
    for _ in range(args.rounds):
        for name, checkout in checkouts.items():
            runs[name].append(measure(checkout, args.records, args.repeats))
    load.append(os.getloadavg())
    print(f"load average (1, 5, 15 min): start {load[0][0]:.1f}, end {load[1][0]:.1f}")
    print(f"{'checkout':<15}{'best us/record':>16}  every round")
    for name, values in runs.items():
        print(f"{name:<15}{min(values):>16.1f}  {', '.join(f'{v:.1f}' for v in values)}")
    for name, checkout in baselines.items():
        print(f"this checkout / {name} ({checkout}): {min(runs['this checkout']) / min(runs[name]):.2f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    result = {
        "benchmark": "structured records, worker processing without Kafka",
        "unit": "microseconds of CPU per record (best)",
        "records": args.records,
        "runs": runs,
        "best": {name: min(values) for name, values in runs.items()},
        "baseline": str(args.baseline[0]) if args.baseline else None,
        "baselines": {name: str(checkout) for name, checkout in baselines.items()},
        "load_average": load,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (RESULTS / args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS / args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
