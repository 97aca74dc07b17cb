"""Rules read clinical context as real ICU notes write it (issue 25): values are never dates or ids,
dates without a year are told from settings, hospitals go by initials and wards, names and places found
once are found again. Every sentence here is written for the test; none comes from a corpus."""

from __future__ import annotations

import pytest

from pipeline.core.detection import RuleDetector
from pipeline.core.detection.lexicons import lexicons
from pipeline.core.detection.vetting import vet
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

DETECTOR = RuleDetector()


def found(text: str, *types: PhiType) -> list[str]:
    return [text[s.start : s.end] for s in DETECTOR.detect(text) if not types or s.type in types]


def model_span(text: str, value: str, phi_type: PhiType, score: float = 0.99) -> Span:
    start = text.index(value)
    return Span(start, start + len(value), phi_type, score, "model:test")


@pytest.mark.parametrize(
    "text",
    [
        "Vent on A/C 650x14, peep 8, FiO2 40%.",
        "Weaned to PSV 15/8 this afternoon.",
        "Currently on CPAP 10/5/50% with good volumes.",
        "PAP 38-45/18-22, wedge 14.",
        "Morning gas 7.33/41/88 on these settings.",
        "Creatinine 1.6 today, down from 2.3.",
        "Crackles 1/3 of the way up on the left.",
        "Given 1 1/2 amps of bicarbonate.",
        "SRR 8-16 overnight, HR 88-104.",
    ],
)
def test_clinical_values_are_no_dates_or_ids(text: str) -> None:
    assert found(text, PhiType.DATE, PhiType.ACCOUNT, PhiType.ID, PhiType.MRN, PhiType.ZIP) == []


@pytest.mark.parametrize("value", ["5/12", "10-14", "7.33/41/88", "650x14", "38-45/18-22"])
def test_vetting_drops_a_model_date_or_account_on_a_value(value: str) -> None:
    text = f"Readings after suctioning: PAD {value} and stable."
    for phi_type in (PhiType.DATE, PhiType.ACCOUNT):
        assert vet(model_span(text, value, phi_type), text) is None


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Events:\n11/4 cath done, two stents placed.\n", "11/4"),
        ("PMH: breast CA s/p lumpectomy 6/88, HTN.", "6/88"),
        ("Had a fall at home in oct. 2019 and again since.", "oct. 2019"),
        ("Last BM 10/2, abdomen soft.", "10/2"),
    ],
)
def test_dates_without_a_year_in_event_lists_and_after_labels(text: str, value: str) -> None:
    assert value in found(text, PhiType.DATE)


def test_ages_are_not_readings() -> None:
    assert found("O2 sats low 90s on 3L, UO 30-120 YELLOW.", PhiType.AGE) == []
    assert found("A 93 yo woman admitted from home.", PhiType.AGE) == ["93"]


@pytest.mark.parametrize("text", ["Pt is comfortable.no changes made.", "See the plan.pt to be turned q2h."])
def test_a_missing_space_after_a_period_is_no_url(text: str) -> None:
    assert found(text, PhiType.URL) == []


def test_web_addresses_still_found() -> None:
    assert found("Forms at www.example.org and example.com/forms.", PhiType.URL) == [
        "www.example.org",
        "example.com/forms",
    ]


def test_hospital_initials_after_movement_words_and_their_other_mentions() -> None:
    text = "PT SENT TO MH FOR CATH. MH CARDIOLOGY TO CALL BACK. TAKEN TO CT AND BACK. LABS FROM MH."
    assert found(text, PhiType.FACILITY) == ["MH", "MH", "MH"]
    assert found("Rise in TSH 6.1 noted, response to ACTH stim.", PhiType.FACILITY) == []


def test_wards_and_universities() -> None:
    text = "Moved to Whitcombe 4 overnight, insulin per U Ohio protocol, remains on levo 5."
    assert found(text) == ["Whitcombe 4", "U Ohio"]


def test_a_name_found_once_is_found_again() -> None:
    text = "Seen by Dr. Kowalczyk this am. KOWALCZYK AWARE OF RESULTS."
    assert found(text, PhiType.NAME) == ["Kowalczyk", "KOWALCZYK"]


@pytest.mark.parametrize(
    "text",
    [
        "GIVEN 500 CC BOLUS AND 2 MG AS WELL.",
        "REMAINS ON CONTACT PRECAUTIONS FOR MRSA.",
        "WIFE AND NIECE IN TO VISIT THIS AM.",
        "PA LINE DC'D BY HO, NP SUCTIONED X2.",
        "Swallowing eval today, MD aware.",
        "Passy Muir valve trial, Swan pulled, Foley to gravity.",
        "3 UNITS GIVEN IV PER DR. BS 250 AT 0600.",
    ],
)
def test_clinical_words_in_capitals_are_no_names_or_streets(text: str) -> None:
    assert found(text, PhiType.NAME, PhiType.STREET) == []


def test_states_and_countries_are_not_identifiers() -> None:
    text = "Son flew in from Oregon; daughter lives in Canada."
    assert vet(model_span(text, "Oregon", PhiType.CITY), text) is None
    assert vet(model_span(text, "Canada", PhiType.CITY), text) is None


def test_lower_case_words_are_no_names_where_names_are_capitalised() -> None:
    text = (
        "Wife Anna and her brother Tom visited, spoke with Dr. Lee and with Mercy about rehab. "
        "Pt brady to the 40s, team aware."
    )
    assert vet(model_span(text, "brady", PhiType.NAME), text) is None
    assert vet(model_span(text, "Anna", PhiType.NAME), text) is not None


def test_typists_slips_are_words_and_surnames_are_not() -> None:
    lex = lexicons()
    assert lex.is_typo("PRIAMRY") and lex.is_typo("betweeen") and lex.is_typo("PRESNT")
    assert not lex.is_typo("Marder") and not lex.is_typo("Lavely")


def test_places_and_names_are_found_whole() -> None:
    text = "Accepted at Linwood Square for rehab. Wife Grace Holm-Ekberg and daughters Nora, Ida and Lou visited."
    spans = DETECTOR.detect(text)
    values = [text[s.start : s.end] for s in spans]
    assert "Holm-Ekberg" in " ".join(values)
    assert {"Ida", "Lou"} <= set(values)


def test_phones_with_a_dropped_separator_and_an_extension() -> None:
    assert found("Call daughter at 617555-0142 x212 anytime.", PhiType.PHONE) == ["617555-0142 x212"]


def test_hospitals_named_after_saints() -> None:
    assert found("Was accepted at St. Agnes today; a bed @ St A. later.", PhiType.FACILITY) == ["St. Agnes", "St A."]
    assert found("HR 90S SR TO ST WITH PVCS, ST ELEVATIONS IN V2.") == []
