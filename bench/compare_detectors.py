"""Today's detector beside an earlier commit's, on the same files, scored by today's scorer.

The earlier detector runs from a checkout of that commit (``git worktree add DIR COMMIT``) in a
subprocess with that checkout first on the import path, so its own rules, ensemble and model are the
ones measured; its spans come back as JSON and both sets are scored here, type-blind (leak-free recall,
span precision) and by overlap. ``--negatives`` scores the texts of ``phi-pipeline model false-alarms``
(no PHI at all) as false alarms per 10,000 whitespace tokens. Prints a table and writes JSON to
bench/results/compare_detectors-{corpus,negatives}.json.

    git worktree add /tmp/baseline ce7f722
    python bench/compare_detectors.py --checkout /tmp/baseline --corpus models/build/eval/test5.jsonl --format jsonl
    python bench/compare_detectors.py --checkout /tmp/baseline --negatives
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.modelbuild.evaluation import load_corpus, score_corpus
from pipeline.runtime.detectors import build_detector

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
_DUMP = """
import json, sys
from pathlib import Path
import pipeline
assert Path(pipeline.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), pipeline.__file__
from pipeline.runtime.detectors import build_detector
det = build_detector(Path(sys.argv[1]) / "models" / "detector", provider="cpu", threads=2)
texts = json.load(open(sys.argv[2]))
out = []
for i in range(0, len(texts), 32):
    out += [[[s.start, s.end, s.type.value] for s in spans] for spans in det.detect_batch(texts[i : i + 32])]
json.dump(out, open(sys.argv[3], "w"))
"""


def checkout_spans(checkout: Path, texts: list[str]) -> list[list[Span]]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "texts.json", Path(tmp) / "spans.json"
        src.write_text(json.dumps(texts), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        # cwd matters: 'python -c' puts the working folder first on the import path, ahead of PYTHONPATH.
        subprocess.run(
            [sys.executable, "-c", _DUMP, str(checkout), str(src), str(dst)], check=True, env=env, cwd=checkout
        )
        rows = json.loads(dst.read_text(encoding="utf-8"))
    return [[Span(a, b, PhiType(t), 1.0, "checkout") for a, b, t in row] for row in rows]


def current_spans(texts: list[str]) -> list[list[Span]]:
    detector = build_detector(REPO / "models" / "detector", provider="cpu", threads=2)
    return [spans for i in range(0, len(texts), 32) for spans in detector.detect_batch(texts[i : i + 32])]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, required=True, help="a checkout of the earlier commit")
    parser.add_argument("--corpus", type=Path, help="a corpus with gold spans")
    parser.add_argument("--format", default="jsonl", help="its format (jsonl, presidio, brat, i2b2)")
    parser.add_argument(
        "--negatives",
        action="store_true",
        help="the negative corpus of 'phi-pipeline model false-alarms' (false alarms per 10k tokens)",
    )
    args = parser.parse_args()
    if (args.corpus is None) != args.negatives:
        parser.error("give exactly one of --corpus and --negatives")
    results: dict[str, dict[str, float]] = {}
    if args.corpus is not None:
        docs = load_corpus(args.corpus, args.format)
        texts = [d.text for d in docs]
        header = ("detector", "leak-free R", "span P", "overlap P", "overlap R", "pred", "gold")
        print(f"{header[0]:<10} " + " ".join(f"{h:>11}" for h in header[1:]))
        for name, spans in (("checkout", checkout_spans(args.checkout, texts)), ("current", current_spans(texts))):
            s = score_corpus(docs, spans)
            lf, ov = s.leak_free["ALL"], s.overlap["ALL"]
            results[name] = {"leak_free_recall": round(lf.recall, 4), "span_precision": round(lf.precision, 4),
                             "overlap_precision": round(ov.precision, 4), "overlap_recall": round(ov.recall, 4),
                             "predicted": lf.pred, "gold": lf.gold}  # fmt: skip
            figures = (lf.recall, lf.precision, ov.precision, ov.recall)
            print(f"{name:<10} " + " ".join(f"{f:>11.3f}" for f in figures) + f" {lf.pred:>11} {lf.gold:>11}")
    else:
        from pipeline.modelbuild.lexicons import negative_corpus

        texts = negative_corpus()
        tokens = sum(len(t.split()) for t in texts)
        print(f"{'detector':<10} {'tokens':>8} {'spans':>7} {'per 10k':>8}")
        for name, spans in (("checkout", checkout_spans(args.checkout, texts)), ("current", current_spans(texts))):
            found = sum(len(s) for s in spans)
            results[name] = {"tokens": tokens, "spans": found, "per_10k_tokens": round(found * 1e4 / tokens, 2)}
            print(f"{name:<10} {tokens:>8} {found:>7} {found * 1e4 / tokens:>8.2f}")
    out = RESULTS / f"compare_detectors-{'corpus' if args.corpus else 'negatives'}.json"
    out.write_text(json.dumps({"args": vars(args) | {"checkout": str(args.checkout)}, **results}, indent=1,
                                  default=str) + "\n", encoding="utf-8")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
