"""Evidence for the sensitive categories: vocabularies in context, and the rule that combines them with a model.

Pure (no model): the combination is checked with fixed model scores, the worst case a model can give (every
category at 0.99, or every one at 0.0), so the evidence alone is what decides each case.
"""

from __future__ import annotations

import pytest

from pipeline.core.sensitive import SensitiveCategory as C
from pipeline.core.sensitive_evidence import combine, find_evidence
from pipeline.core.sensitive_evidence.codes import categories_of_code, codes_in_text
from pipeline.core.sensitive_evidence.combine import needs_model

THRESHOLDS = {c: 0.3 for c in C}
CONFIDENT = {c: 0.99 for c in C}
SILENT = {c: 0.0 for c in C}


def found(text: str, model: dict[C, float] = CONFIDENT) -> set[C]:
    scores = combine(model, find_evidence(text), THRESHOLDS)
    return {c for c, s in scores.items() if s >= THRESHOLDS[c]}


@pytest.mark.parametrize(
    "text",
    [
        "Lumbar epidural steroid injection for sciatica, tolerated well.",
        "Insulin injection technique reviewed with patient before discharge.",
        "Cortisone injection to the right knee for osteoarthritis, no complications.",
        "POD 1 after laparoscopic appendectomy, ambulating, pain controlled.",
        "Knee replacement 2 days ago, physical therapy twice daily.",
        "GI: OGT aspirate OB+. Started IVF at 100cc/hr. FS 210, covered with SSRI per scale.",
        "EKG with ST depression in V5-V6; respiratory depression after morphine resolved with narcan.",
        "Hep C, viral load 2 million, starting treatment with hepatology. Herpes zoster on L flank.",
        "Pt with hearing aids. MRSA carrier. HCV genotype 1a.",
        "Pt extubated, withdrawal of care discussed with family; pt withdraws to pain.",
        "Pt anxious about the procedure, reassured, slept well after.",
    ],
)
def test_hard_negatives_are_never_found_whatever_the_model_says(text):
    assert found(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Denies alcohol, tobacco or drug use. No SI/HI. PHQ-2: 0.",
        "Urine hCG negative prior to CT. Denies possibility of pregnancy.",
        "Negative pregnancy test before CT.",
        "Social history: EtOH: none. Drugs: never. Urine hCG: negative. Depression - denies.",
        "Screened for depression (PHQ-2 0) and alcohol use (AUDIT-C 1): negative.",
        "No history of STDs. Social drinker, 2 glasses of wine on weekends.",
        "FHx: mother with BRCA1 mutation and breast cancer at 45; father with alcoholism.",
        "Her sister has schizophrenia. His brother is HIV positive.",
    ],
)
def test_denials_negative_screens_and_relatives_are_not_the_patients_own(text):
    assert found(text) == set()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Depression with alcohol use disorder, CIWA 12 overnight, lorazepam per protocol.",
            {C.MENTAL_HEALTH, C.SUBSTANCE_USE},
        ),
        ("Injection drug use, new HIV diagnosis today, started Biktarvy.", {C.SUBSTANCE_USE, C.HIV_STI}),
        ("PMH: etoh abuse, HTN, hep C.", {C.SUBSTANCE_USE}),
        ("On buprenorphine-naloxone 8/2 daily for OUD, 24 weeks pregnant.", {C.SUBSTANCE_USE, C.REPRODUCTIVE}),
        ("HIV test negative today, RPR nonreactive.", {C.HIV_STI}),
        ("Germline testing: pathogenic BRCA2 variant after genetic counseling.", {C.GENETIC}),
        ("G2P1 at 24w3d, fetal heart tones 145.", {C.REPRODUCTIVE}),
        ("Remains only on paxil, sees psychiatrist as outpatient.", {C.MENTAL_HEALTH}),
        ("Dx: F10.20, Z33.1", {C.SUBSTANCE_USE, C.REPRODUCTIVE}),
        ("Alcoholic, drinks a case of beer per day.", {C.SUBSTANCE_USE}),  # no phrase spans the comma
        ("Depression, no SI, follows with psychiatry.", {C.MENTAL_HEALTH}),  # the answer is for SI only
    ],
)
def test_strong_evidence_is_found_even_when_the_model_misses_it(text, expected):
    assert found(text, SILENT) == expected


def test_weak_evidence_lets_the_model_decide():
    text = "Pt reports etoh use on weekends, last use unknown."
    assert C.SUBSTANCE_USE in found(text, CONFIDENT)
    assert C.SUBSTANCE_USE not in found(text, SILENT)
    assert needs_model(find_evidence(text))
    assert not needs_model(find_evidence("Knee replacement 2 days ago."))
    assert not needs_model(find_evidence("Alcohol withdrawal, CIWA 14."))


def test_situational_anxiety_alone_is_not_mental_health_but_with_a_psychiatric_medication_the_model_decides():
    assert found("Very anxious overnight, ativan 1mg given with effect.") == set()
    assert found("Anxiety overnight, risperidone 1mg given with effect.") == {C.MENTAL_HEALTH}


def test_a_nursing_note_is_never_a_psychotherapy_note():
    nursing = "NEURO: A&O x3. CV: SR 80s. RESP: LS clear. SOCIAL: therapy session with PT in AM, client education done."
    assert C.PSYCHOTHERAPY_NOTES not in found(nursing)
    session = "Session 6. Client explored her grief over her father's death; we processed the guilt she carries."
    assert found(session, SILENT) == {C.PSYCHOTHERAPY_NOTES, C.MENTAL_HEALTH}


def test_codes_count_with_their_decimal_or_after_a_cue_and_never_from_family_history_blocks():
    assert categories_of_code("F17.210") == set()  # nicotine dependence: tobacco is outside Part 2
    assert categories_of_code("F03.90") == set()  # dementia: neurocognitive
    assert categories_of_code("O9A.212") == {C.REPRODUCTIVE}
    assert categories_of_code("Z15.01") == {C.GENETIC}
    assert categories_of_code("Z84.81") == set()  # family history of a genetic carrier state
    assert [code for _, code, _ in codes_in_text("Bed B20, O2 at 2L; ICD-10: B20")] == ["B20"]


def test_evidence_records_name_vocabulary_terms_never_note_text():
    record = find_evidence("John Smith, MRN 12345, alcohol withdrawal on CIWA.").as_record()
    flat = repr(record).lower()
    assert "su.withdrawal" in flat
    assert "smith" not in flat and "12345" not in flat
