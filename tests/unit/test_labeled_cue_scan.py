"""The labelled-ID recognizers' shared cue scan skips only notes where their patterns cannot match."""

from __future__ import annotations

import pytest

from pipeline.core.detection.base import Doc
from pipeline.core.detection.recognizers import labeled
from pipeline.core.detection.registry import default_recognizers

_TEXTS = [
    "MRN: 0012345; Member ID W123456789; acct#55512; lic: D1234567; plate 7ABC123; by ambulance XC 3145",
    "serial #A12345, DEVICE ID 99812, fingerprint id FP-7781, passport 533387216, study id ST-0042",
    "user id jdoe42 and userid lee.khan99; username parka; login blaurent65; ID: 99812; case # 7781",
    "Pt resting. BP 120/80, HR 88, no labels here at all, acid 45 and fluids 2L",
    "MR# 448812 ... Chart 88123 ... hospital number 55121; EMR 99812-A; Insurance ID: QX88123",
    # cues inside and right after other cues' matches: only matches a full scan finds, none overlapping
    "record record 12345 mrn mrn: 5555mrn 6666 patient id id: 12345 user id id 4471 card card 9911-22 xmrn 4444",
]
_ALL = [r for r in default_recognizers() if isinstance(r, labeled.LabeledIdRecognizer)]


def _spans(recognizer: labeled.LabeledIdRecognizer, text: str) -> list[tuple[int, int, str]]:
    return [(s.start, s.end, s.type.value) for s in recognizer.find(Doc.of(text))]


@pytest.mark.parametrize("text", _TEXTS)
def test_a_shared_scan_finds_what_a_full_case_insensitive_scan_finds(text: str) -> None:
    found = 0
    for recognizer in _ALL:
        # A non-ASCII note is scanned in full, without the cue scan; the appended letter changes no match.
        full = _spans(recognizer, text + " \u00e9")
        assert _spans(recognizer, text) == full
        assert _spans(recognizer, text.upper()) == _spans(recognizer, text.upper() + " \u00e9")
        found += len(full)
    assert found or "no labels" in text


def test_the_default_recognizers_share_one_scan_and_a_lone_one_has_its_own() -> None:
    assert len({id(r.scan) for r in _ALL}) == 1
    lone = labeled.mrn_recognizer()
    assert lone.scan is not _ALL[0].scan
    assert _spans(lone, _TEXTS[0]) == _spans(_ALL[0], _TEXTS[0]) != []


def test_the_scan_grouped_by_first_letter_finds_the_places_the_plain_union_of_cues_finds() -> None:
    import random
    import re

    cues = [cue for r in _ALL for cue in r.cues]
    plain = re.compile("(?<![a-z0-9])(?=" + "|".join(f"(?:{cue})(?![a-z])" for cue in cues) + ")")
    scan = labeled.CueScan(cues)
    rng = random.Random(8)
    words = [*" ".join(_TEXTS).lower().split(), "user name", "licence plate", "transport van", "iris scan", "a/c"]
    texts = [" ".join(rng.choice(words) + rng.choice(["", " ", "x", "-", ": "]) for _ in range(80)) for _ in range(40)]
    found = 0
    for text in texts:
        expected = tuple(m.start() for m in plain.finditer(text))
        assert scan.starts(Doc.of(text)) == expected
        found += len(expected)
    assert found > 500
