"""Rules-only figures on the presidio-research synthetic set in ../shared/data (skipped when absent).

The thresholds are regression guards set a little under the measured figures, not targets.
"""

from pathlib import Path

import pytest

from pipeline.core.detection import RuleDetector
from pipeline.modelbuild.evaluation import load_corpus, score_corpus

DATA = (
    Path(__file__).resolve().parents[2].parent / "shared" / "data" / "presidio_research_synth" / "synth_dataset_v2.json"
)


@pytest.fixture(scope="module")
def scores():
    if not DATA.exists():
        pytest.skip(f"presidio-research data not found at {DATA} (shared/data is not part of this checkout)")
    docs = load_corpus(DATA, "presidio")
    assert len(docs) == 1500
    return score_corpus(docs, RuleDetector().detect_batch([d.text for d in docs]))


@pytest.mark.parametrize("phi_type", ["EMAIL", "SSN", "IP", "URL"])
def test_fixed_shape_identifiers_are_found(scores, phi_type):
    assert scores.overlap[phi_type].recall >= 0.95
    assert scores.overlap[phi_type].precision >= 0.95


def test_phone_recall(scores):
    assert scores.overlap["PHONE"].recall >= 0.9


def test_overall_precision_stays_high(scores):
    assert scores.overlap["ANY"].precision >= 0.95
