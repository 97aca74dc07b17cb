"""The name recognizer's fast paths change no span: a pattern skipped in a note without capitals (or without
lower-case letters) cannot match there, and the cue-led patterns tried only where one shared scan found a cue
match as a full scan does."""

from __future__ import annotations

import pytest

from pipeline.core.detection.base import Doc, matches_at
from pipeline.core.detection.recognizers.names import NameRecognizer

#: Every cue and name shape the patterns look for, in mixed case, so each pattern matches here as written.
_TEXT = (
    "Seen by Dr. Smith and Jones. Ms. PHAM aware. DR LEE called. PT HALL RESTING IN BED. Drs. Lee and Okafor. "
    "Mary Lou Jensen, RN. ANNA COLE, MD. per J. MORANTI and d. renna rn. DANA PELLEGRINO CALLED. "
    "Attending: John Smith. Patient: Ana Ruiz. Dear Kim, thanks Jo. wife Mary Ann visited. wife mary here. "
    "per md Lee. my name is Sam Ortiz. told Peter Hall. with John Smith at bedside. Contact: Rosa Diaz."
)
_RECOGNIZER = NameRecognizer()
_PATTERNS = {name: regex for name, regex, _ in NameRecognizer._patterns}
_CUED = {name: (cue, name_regex) for name, cue, name_regex, _ in NameRecognizer._cued}


def _matches(name: str, text: str) -> bool:
    if name in _PATTERNS:
        return _PATTERNS[name].search(text) is not None
    cue, name_regex = _CUED[name]
    return any(name_regex.match(text, m.end()) for m in cue.finditer(Doc.of(text).lower))


@pytest.mark.parametrize("name", sorted(NameRecognizer._needs_capital))
def test_a_pattern_gated_on_capitals_matches_mixed_case_but_never_lower_case(name: str) -> None:
    assert _matches(name, _TEXT)
    assert not _matches(name, _TEXT.lower())


@pytest.mark.parametrize("name", sorted(NameRecognizer._needs_lower))
def test_a_pattern_gated_on_lower_case_matches_mixed_case_but_never_capitals(name: str) -> None:
    assert _matches(name, _TEXT)
    assert not _matches(name, _TEXT.upper())


def test_the_gated_names_are_patterns_of_the_recognizer() -> None:
    assert NameRecognizer._needs_capital | NameRecognizer._needs_lower <= set(_PATTERNS) | set(_CUED)


@pytest.mark.parametrize(
    "text", [_TEXT, _TEXT.lower(), _TEXT.upper(), "seen by seen by  wife wife, spoke with np np lee"]
)
def test_the_cue_led_patterns_tried_only_where_the_shared_scan_found_a_cue_match_as_a_full_scan(text: str) -> None:
    lower = Doc.of(text).lower
    starts = [m.start() for m in NameRecognizer._cue_starts.finditer(lower)]
    tried = 0
    for name, (cue, _) in _CUED.items():
        if name == "weak_intro":
            continue
        full = [m.span() for m in cue.finditer(lower)]
        assert [m.span() for m in matches_at(cue, lower, starts)] == full
        tried += len(full)
    assert tried


@pytest.mark.parametrize("name", sorted(NameRecognizer._gates))
def test_every_match_of_a_gated_pattern_holds_its_gate(name: str) -> None:
    gate = NameRecognizer._gates[name].regex
    assert gate is not None
    texts = [_TEXT, _TEXT.upper(), _TEXT.lower(), "by A. B. LEE; (j. o'brien) and Mc Ann Ho-Li, PA-C; X.Y. Z, FNP-BC"]
    found = 0
    for text in texts:
        for match in _PATTERNS[name].finditer(text):
            assert gate.search(text, match.start(), match.end()) is not None, (name, match.group(0))
            found += 1
    assert found  # the texts hold matches to test
    assert gate.search("Seen today, plan as above.") is None  # and the gate does skip some notes
