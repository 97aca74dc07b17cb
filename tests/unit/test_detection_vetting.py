"""What is never PHI: every span, from a model or a rule, passes the vetting before the merge."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core.detection.lexicons import lexicons
from pipeline.core.detection.rule_detector import RuleDetector
from pipeline.core.detection.vetting import vet
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span


def _span(text: str, value: str, phi_type: PhiType, score: float = 0.7) -> Span:
    start = text.index(value)
    return Span(start, start + len(value), phi_type, score, "model:test")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("0200 PT AGITATED", "0200"),
        ("MEDS GIVEN AT 10:30 PM", "10:30 PM"),
        ("seen at 2am", "2am"),
        ("SHIFT 7P-7A", "7P-7A"),
        ("CABG IN 1998", "1998"),
        ("BP 120/80", "120/80"),
        ("PAIN 5/10", "5/10"),
        ("GRIPS 5/5", "5/5"),
        ("3/6 SEM AT RUSB", "3/6"),
        ("HR 80-90", "80-90"),
        ("SATS IN THE 90s", "90s"),
        ("1:1 SITTER", "1:1"),
        ("PT MAY GO HOME", "MAY"),
        ("K 3.5 REPLETED", "3.5"),
    ],
)
def test_times_years_values_and_scores_are_never_dates(text, value):
    assert vet(_span(text, value, PhiType.DATE), text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("CXR 3/15 SHOWED PNA", "3/15"),
        ("LAST BM 3/12.", "3/12"),
        ("admitted on 4-14 from home", "4-14"),
        ("seen March 3", "March 3"),
        ("DOB 01/02/1931", "01/02/1931"),
        ("home by Christmas", "Christmas"),
        ("on May 5th", "May 5th"),
    ],
)
def test_calendar_dates_survive(text, value):
    assert vet(_span(text, value, PhiType.DATE), text) is not None


def test_ages_under_90_are_not_phi_and_90_and_over_are():
    assert vet(_span("45 YO MAN", "45", PhiType.AGE), "45 YO MAN") is None
    assert vet(_span("92 YO MAN", "92", PhiType.AGE), "92 YO MAN") is not None
    assert vet(_span("in her 90s", "90s", PhiType.AGE), "in her 90s") is not None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("FOLEY DRAINING CLEAR URINE", "FOLEY"),
        ("NEURO: PERRLA, MAE", "PERRLA"),
        ("ON LEVO AND PROPOFOL", "LEVO"),
        ("ABD SOFT NT/ND", "SOFT"),
        ("wife supportive at bedside", "supportive"),
        ("WIFE SUPPORTIVE", "SUPPORTIVE"),
        ("SWAN PULLED", "SWAN"),
        ("pt will call", "will"),
        ("a B c", "B"),
    ],
)
def test_clinical_vocabulary_is_not_a_name(text, value):
    assert vet(_span(text, value, PhiType.NAME), text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Seen by Dr. May today", "May"),
        ("wife Hope at bedside", "Hope"),
        ("PT JOHN SMITH", "JOHN SMITH"),
        ("dtr okonkwo called", "okonkwo"),
        ("Hall, RN", "Hall"),
    ],
)
def test_names_survive(text, value):
    assert vet(_span(text, value, PhiType.NAME), text) is not None


@pytest.mark.parametrize(("text", "value"), [("TRANSFERRED TO MICU", "MICU"), ("FROM OSH", "OSH"), ("ON LEVO", "LEVO")])
def test_generic_units_and_drugs_are_not_places(text, value):
    for phi_type in (PhiType.FACILITY, PhiType.CITY, PhiType.LOCATION):
        assert vet(_span(text, value, phi_type), text) is None


def test_a_confident_model_is_believed_where_the_shape_is_ambiguous():
    text = "US ABDOMEN 8-25. SPOKE WITH SISTER MAY BY PHONE. last bm jul 11. imaging from 9/1929"
    assert vet(_span(text, "8-25", PhiType.DATE, 0.95), text) is not None
    assert vet(_span(text, "8-25", PhiType.DATE, 0.7), text) is None
    assert vet(_span(text, "MAY", PhiType.NAME, 0.98), text) is not None
    assert vet(_span(text, "jul 11", PhiType.DATE), text) is not None
    assert vet(_span(text, "9/1929", PhiType.DATE), text) is not None


def test_hospital_initials_that_are_also_abbreviations_survive_after_a_transfer_word():
    text = "TRANSFERRED FROM PMH ON 3/2. PMH: HTN"
    assert vet(_span(text, "PMH", PhiType.FACILITY), text) is not None
    assert vet(Span(29, 32, PhiType.FACILITY, 0.7, "model:test"), text) is None


def test_named_hospitals_survive():
    text = "TRANSFERRED FROM LMC, then to Lakeside Medical Center"
    assert vet(_span(text, "LMC", PhiType.FACILITY), text) is not None
    assert vet(_span(text, "Lakeside Medical Center", PhiType.FACILITY), text) is not None


def test_lexicons_come_from_the_shipped_files():
    lex = lexicons()
    assert len(lex.surnames) > 80_000 and len(lex.drugs) > 100_000 and len(lex.abbreviations) > 3_000
    assert lex.is_name_first("Smith") and not lex.is_name_first("will") and lex.is_clinical("vanco")


def test_rules_alone_leave_a_terse_nursing_note_untouched():
    text = (
        "NPN 0700-1900\nNEURO: A+OX3, MAE, GRIPS 5/5. CV: HR 80s-90s NSR, SBP 100-120s, LEVO @ 0.12 MCG/KG/MIN.\n"
        "RESP: LS CLEAR, SATS 95-98% ON 2L NC. GI: ABD SOFT, +BS. GU: FOLEY DRAINING 30-50CC/HR.\n"
        "0200 PT AGITATED, HALDOL 2 MG IV GIVEN. 1:1 SITTER. PAIN 4/10. CABG IN 1998. 72 YO MAN."
    )
    spans = RuleDetector().detect(text)
    assert spans == [], [(text[s.start : s.end], s.type.value) for s in spans]


TEXT = st.text(alphabet=st.sampled_from(list("0123456789/:-. aAmMpPyYoO")), min_size=1, max_size=40)


@settings(max_examples=400, deadline=None)
@given(text=TEXT, data=st.data(), phi_type=st.sampled_from(list(PhiType)))
def test_vetting_never_raises_and_never_moves_a_span(text, data, phi_type):
    start = data.draw(st.integers(0, len(text) - 1))
    end = data.draw(st.integers(start + 1, len(text)))
    kept = vet(Span(start, end, phi_type, 0.8, "model:test"), text)
    if kept is not None:
        assert (kept.start, kept.end) == (start, end)


def test_census_names_are_found_in_mixed_case_text_but_not_eponyms_or_sentence_openers():
    detector = RuleDetector()
    text = "Unlike the Jensen novel, the patient with Parkinson disease and a Foley catheter. Mark the site."
    found = [text[s.start : s.end] for s in detector.detect(text) if s.type is PhiType.NAME]
    assert found == ["Jensen"]
    pair = "Seen with Kevin J Smith today."
    assert [pair[s.start : s.end] for s in detector.detect(pair)] == ["Kevin J Smith"]
    shouted = "PT JENSEN RESTING. KEVIN SMITH AT BEDSIDE"
    assert not [s for s in detector.candidates(shouted) if s.detector == "rules:name_lexicon"]


def test_vocabulary_answers_are_remembered_unchanged_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    from pipeline.core.detection import lexicons as lexicon_module

    lex = lexicons()
    tokens = ["Foley", "FOLEY", "clear", "Sara", "SARA", "Jensen", "dauther", "phoned", "x", "Hope", "hope", "ED"]
    lex._vocabulary.clear()
    monkeypatch.setattr(lexicon_module, "_MEMO_LIMIT", 5)
    for _ in range(2):  # the second pass answers from memory
        for token in tokens:
            for as_written in (False, True):
                assert lex.is_vocabulary(token, as_written) == lex._judge_vocabulary(token, as_written), token
                assert len(lex._vocabulary) <= 5
    assert lex.is_vocabulary("Foley") and not lex.is_vocabulary("Jensen")


def test_the_letter_or_digit_pattern_is_str_isalnum() -> None:
    from pipeline.core.detection.vetting import _ALNUM

    chars = [chr(code) for code in [*range(0x3000), *range(0x3000, 0x110000, 97)]]
    assert [c for c in chars if (_ALNUM.match(c) is not None) != c.isalnum()] == []
