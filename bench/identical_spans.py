"""Whether this checkout's detector finds exactly the spans another checkout's finds: the check for a change
that must only make detection faster.

Each checkout runs in a process of its own (its own rules, ensemble and model) over the same texts and
reports every span in full: offsets, type, score, detector and reasons. The rules alone are compared
twice, their raw candidates (as a multiset, since a faster recognizer may yield in another order) and
their merged output; the rules + model detector by its output, in batches of 32 as the worker runs it.
Texts: the development half of the real notes and the presidio-research set (../shared/data) when
present, plus any ``--corpus PATH:FORMAT`` (e.g. the synthetic test split that ``phi-pipeline model
corpus`` writes). Exits 1 when a span differs.

    .venv/bin/python bench/identical_spans.py --baseline /tmp/base [--rules-only] \
        [--corpus models/build/eval/test.jsonl:jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from pipeline.modelbuild.evaluation import load_corpus

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
DEFAULT_CORPORA = (
    (DATA / "physionet_deid_dev" / "notes.jsonl", "jsonl"),
    (DATA / "presidio_research_synth" / "synth_dataset_v2.json", "presidio"),
)
_DUMP = """
import json, sys
from pathlib import Path
import pipeline
assert Path(pipeline.__file__).resolve().is_relative_to(Path(sys.argv[1]).resolve()), pipeline.__file__
from pipeline.core.detection import RuleDetector
texts, full = json.load(open(sys.argv[2])), sys.argv[4] == "full"
row = lambda spans: [[s.start, s.end, s.type.value, s.score, s.detector, list(s.reasons)] for s in spans]
rules = RuleDetector()
out = {"candidates": [row(rules.candidates(t)) for t in texts], "rules": [row(rules.detect(t)) for t in texts]}
if full:
    from pipeline.runtime.detectors import build_detector
    det = build_detector(Path(sys.argv[1]) / "models" / "detector", provider="cpu", threads=1)
    out["rules + model"] = [row(s) for i in range(0, len(texts), 32) for s in det.detect_batch(texts[i : i + 32])]
json.dump(out, open(sys.argv[3], "w"))
"""


def spans_of(checkout: Path, texts: list[str], full: bool) -> dict[str, list[list[list[object]]]]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "texts.json", Path(tmp) / "spans.json"
        src.write_text(json.dumps(texts), encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(checkout)}
        # cwd matters: 'python -c' puts the working folder first on the import path, ahead of PYTHONPATH.
        argv = [sys.executable, "-c", _DUMP, str(checkout), str(src), str(dst), "full" if full else "rules"]
        subprocess.run(argv, check=True, env=env, cwd=checkout)
        return json.loads(dst.read_text(encoding="utf-8"))


def differing(ours: list[list[list[object]]], theirs: list[list[list[object]]], as_multiset: bool) -> int:
    """How many texts' spans differ (in order, or as multisets)."""
    if as_multiset:
        return sum(Counter(map(repr, a)) != Counter(map(repr, b)) for a, b in zip(ours, theirs, strict=True))
    return sum(a != b for a, b in zip(ours, theirs, strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the earlier commit")
    parser.add_argument("--rules-only", action="store_true", help="skip the rules + model detector")
    parser.add_argument("--corpus", action="append", default=[], metavar="PATH:FORMAT", help="more texts")
    args = parser.parse_args()
    corpora = [(p, f) for p, f in DEFAULT_CORPORA if p.exists()]
    corpora += [(Path(c.rsplit(":", 1)[0]), c.rsplit(":", 1)[1]) for c in args.corpus]
    failures = 0
    for path, fmt in corpora:
        texts = [doc.text for doc in load_corpus(path, fmt)]
        ours = spans_of(REPO, texts, not args.rules_only)
        theirs = spans_of(args.baseline, texts, not args.rules_only)
        for kind, rows in ours.items():
            bad = differing(rows, theirs[kind], as_multiset=kind == "candidates")
            failures += bad
            spans = sum(map(len, rows))
            print(f"{path.name:28} {kind:12} {len(texts):5} texts {spans:6} spans   texts differing: {bad}")
    print("identical" if not failures else f"{failures} texts differ")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
