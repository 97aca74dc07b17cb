"""The garbage collector's share of a notes message's CPU in the worker's processor, with and without
``gc.freeze()`` after start-up (a finding for issue 29, not yet applied in the worker).

Builds the worker's processor as ``cpu_split.py`` does (one inference thread), processes one warm-up step of
the throughput benchmark's notes records, optionally freezes every object alive then (imports, models,
tables: about 160,000 tracked objects that each full collection would otherwise traverse), then processes
``--messages`` more in steps of 16 and prints process CPU and collector CPU per message. Run it in both modes,
alternating, in fresh processes:

    for m in plain freeze freeze plain; do .venv/bin/python bench/gc_cost.py --mode $m; done
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from pathlib import Path
from typing import Any


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=("plain", "freeze"), default="plain")
    parser.add_argument("--messages", type=int, default=128)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from throughput import make_inputs  # bench/ is not a package

    from pipeline.config import Settings
    from pipeline.core.crypto.keyring import Keyring
    from pipeline.core.messages import InboundMessage
    from pipeline.runtime.assembly import build_processor

    os.environ.setdefault("PHI_INFERENCE_THREADS", "1")
    keyring = Keyring.generate()
    processor = build_processor(Settings.from_env(), keyring)
    step = 16
    inputs = make_inputs(keyring, processor.registry, args.messages + step, True, seed=1)
    batch = [
        InboundMessage(i.value, i.key, tuple(i.headers), "phi.ingest", 0, offset, None)
        for offset, i in enumerate(inputs)
    ]
    processor.process_batch(batch[:step])
    if args.mode == "freeze":
        gc.freeze()
    collector = {"seconds": 0.0, "started": 0.0, "runs": 0}

    def timed(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            collector["started"] = time.thread_time()
        else:
            collector["seconds"] += time.thread_time() - collector["started"]
            collector["runs"] += 1

    gc.callbacks.append(timed)
    started = time.process_time()
    for first in range(step, len(batch), step):
        processor.process_batch(batch[first : first + step])
    total = time.process_time() - started
    per = 1000 / args.messages
    print(
        json.dumps(
            {
                "mode": args.mode,
                "cpu_ms_per_msg": round(total * per, 2),
                "gc_ms_per_msg": round(collector["seconds"] * per, 3),
                "collections": collector["runs"],
                "frozen_objects": gc.get_freeze_count(),
            }
        )
    )


if __name__ == "__main__":
    main()
