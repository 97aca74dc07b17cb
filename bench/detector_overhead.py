"""CPU per note that the model detector spends outside onnxruntime (tokenizing, windowing, softmax, averaging,
decoding), this checkout's ``OnnxTokenClassifier`` against another checkout's, in one process, interleaved.

Both classes load the same model folder (this checkout's ``models/detector``) and run the same real
development notes (../shared/data) in batches of 32, as the worker does; each session's ``run`` is timed
with the process's CPU clock, and what is left of ``detect_batch``'s CPU time is the part outside
onnxruntime. The other checkout's module is loaded from its file; it imports this checkout's package for
everything else. Rounds alternate which class goes first; the median round is reported.

    .venv/bin/python bench/detector_overhead.py --baseline /tmp/base_r3 [--notes 600] [--rounds 6] [--features]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import pipeline.runtime.onnx_recognizer as current  # noqa: E402
from pipeline.runtime.category_head import WindowFeatures  # noqa: E402

NOTES = REPO.parent / "shared" / "data" / "physionet_deid_dev" / "notes.jsonl"
MODULE = Path("pipeline") / "runtime" / "onnx_recognizer.py"


class TimedSession:
    """An onnxruntime session whose ``run`` adds its CPU seconds to ``seconds``."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.seconds = 0.0

    def run(self, *args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return self.session.run(*args, **kwargs)
        finally:
            self.seconds += time.process_time() - start

    def __getattr__(self, name: str) -> Any:
        return getattr(self.session, name)


def load_module(checkout: Path) -> ModuleType:
    """The other checkout's onnx_recognizer module, under a name of its own."""
    spec = importlib.util.spec_from_file_location("baseline_onnx_recognizer", checkout / MODULE)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{checkout / MODULE}: not found")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the earlier commit")
    parser.add_argument("--notes", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--features", action="store_true", help="with the category head's window features on")
    args = parser.parse_args()
    if not NOTES.exists():
        raise SystemExit(f"{NOTES}: the development notes are absent")
    with NOTES.open(encoding="utf-8") as handle:
        texts = [json.loads(line)["text"] for line in handle][: args.notes]
    models = {}
    for name, module in (("baseline", load_module(args.baseline)), ("this checkout", current)):
        model = module.OnnxTokenClassifier(REPO / "models" / "detector", provider="cpu", threads=1)
        if args.features:
            model.enable_features(WindowFeatures())
        model.session = TimedSession(model.session)
        model.detect_batch(texts[:32])  # warm-up
        models[name] = model
    outside: dict[str, list[float]] = {name: [] for name in models}
    inside: dict[str, list[float]] = {name: [] for name in models}
    for round_ in range(args.rounds):
        for name in list(models)[:: 1 if round_ % 2 == 0 else -1]:
            model = models[name]
            model.session.seconds = 0.0
            start = time.process_time()
            for first in range(0, len(texts), 32):
                model.detect_batch(texts[first : first + 32])
            total = time.process_time() - start
            outside[name].append((total - model.session.seconds) / len(texts) * 1e3)
            inside[name].append(model.session.seconds / len(texts) * 1e3)
    print(f"{len(texts)} notes, {args.rounds} rounds, features {'on' if args.features else 'off'}; CPU ms per note")
    for name in models:
        print(
            f"{name:14} outside onnxruntime: median {statistics.median(outside[name]):.3f} "
            f"(min {min(outside[name]):.3f})   inside: median {statistics.median(inside[name]):.2f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
