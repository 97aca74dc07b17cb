"""`phi-pipeline eval` on a sample of the real ICU notes of ../shared/data (skipped when absent).

Every 5th note of the PhysioNet deid development half (219 notes, 188 gold spans) through the shipped
detector, scored as the eval command scores the whole half (`--sample 5`). The bars are regression guards
set a little under the figures measured when they were written (leak-free recall 0.936, span precision
0.806, 23.2 clinical words destroyed per 10,000), not targets. The notes' text never enters the repository.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from pipeline.interfaces import detect_commands
from tests.conftest import SHARED_DATA

NOTES = SHARED_DATA / "physionet_deid_dev" / "notes.jsonl"
MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "detector"

pytestmark = [
    pytest.mark.skipif(not NOTES.exists(), reason=f"real notes not found at {NOTES} (shared/data is not checked out)"),
    pytest.mark.skipif(not (MODEL_DIR / "model_quantized.onnx").exists(), reason="models/detector is not built"),
]


@pytest.fixture(scope="module")
def figures(tmp_path_factory: pytest.TempPathFactory) -> dict:
    parser = argparse.ArgumentParser()
    detect_commands.register(parser.add_subparsers(dest="command", required=True))
    out = tmp_path_factory.mktemp("eval") / "figures.json"
    argv = ["eval", "--corpus", str(NOTES), "--format", "jsonl", "--sample", "5", "--json", str(out)]
    args = parser.parse_args([*argv, "--model", str(MODEL_DIR), "--provider", "cpu", "--threads", "2"])
    assert args.func(args) == 0
    return json.loads(out.read_text())


def test_labels_are_mapped_and_years_set_aside(figures: dict) -> None:
    labels = figures["leak_free_by_label"]
    assert {"HCPName", "Location", "Date", "RelativeProxyName"} <= set(labels)
    assert "DateYear" not in labels and "DateYear" in figures["aside_coverage"]
    assert figures["documents"] == 219


def test_safe_harbor_recall_and_precision(figures: dict) -> None:
    overall = figures["leak_free"]["ALL"]
    assert overall["gold"] == 188
    assert overall["recall"] >= 0.92, overall
    assert overall["precision"] >= 0.77, overall


def test_clinical_words_destroyed(figures: dict) -> None:
    words = figures["clinical_words"]
    assert words["tokens"] > 25_000
    assert words["per_10k"] <= 30.0, words
