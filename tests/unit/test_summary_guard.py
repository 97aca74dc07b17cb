"""The faithfulness guard and the final choice of summary, sentence by sentence (pure, no model)."""

import pytest

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.core.summary_extractive import section_summary
from pipeline.core.summary_guard import (
    check_faithfulness,
    copied_share,
    finalize_summary,
    is_filler,
    is_repetitive,
    medications_in,
    redact_spans,
    unfinished_tail,
)
from pipeline.core.text_pieces import sentences

SOURCE = (
    "71 yo patient (MRN [MRN]) admitted [DATE]. Started metoprolol 25 mg PO BID. "
    "Ambulating with PT, steady gait with walker. Wife [NAME] at bedside; reachable at [PHONE]. "
    "Creatinine trending down, 1.4 from 2.1. Discussed with Dr. [NAME], pager [PHONE]. "
    "Follow up in clinic on [DATE]."
)


def kinds(summary, source=SOURCE):
    return sorted((f.kind, f.value) for f in check_faithfulness(summary, source).failures)


def test_faithful_summary_passes_with_formatting_differences():
    summary = "71 yo admitted [DATE] on Metoprolol 25mg; creatinine improved to 1.40 from 2.1, follow up [DATE]."
    assert check_faithfulness(summary, SOURCE).passed


@pytest.mark.parametrize(
    ("summary", "expected"),
    [
        ("Creatinine 1.8.", [("number", "1.8")]),
        ("Started metoprolol 50 mg.", [("dose", "50 mg")]),
        ("Started metoprolol 25 g.", [("dose", "25 g")]),
        ("Started lisinopril.", [("medication", "lisinopril")]),
        ("Started atenolol.", [("medication", "atenolol")]),  # not in the lexicon: caught by its ending
        ("Seen on March 3.", [("date", "March 3")]),
        ("Contact at [EMAIL].", [("placeholder", "[EMAIL]")]),
    ],
)
def test_guard_catches_each_invented_detail_once(summary, expected):
    assert kinds(summary) == expected


def test_guard_catches_invented_date_placeholder():
    source = "Started metoprolol 25 mg PO BID."
    assert kinds("Started metoprolol 25 mg on [DATE].", source) == [("date", "[DATE]")]


def test_guard_reason_has_counts_and_no_values():
    report = check_faithfulness("Give 88 mg of vancomycin, HR 130.", SOURCE)
    assert report.reason == "unfaithful:dose=1,medication=1,number=1"
    assert "88" not in report.reason and "vancomycin" not in report.reason


def test_words_that_look_like_drug_endings_or_months_are_not_flagged():
    assert medications_in("Cholesterol panel pending; plan to march forward, may return.") == set()
    assert check_faithfulness("Patient may march with the walker.", SOURCE).passed


def test_sentences_keep_decimals_and_titles_together():
    assert sentences("Cr 1.4 from 2.1. Seen by Dr. [NAME].\nPlan: home") == [
        "Cr 1.4 from 2.1.",
        "Seen by Dr. [NAME].",
        "Plan: home",
    ]


def test_redact_spans_merges_overlaps_and_counts():
    text = "Call Jane Doe at 617-555-0134."
    spans = [Span(5, 9, PhiType.NAME), Span(5, 13, PhiType.NAME, 0.9), Span(17, 29, PhiType.PHONE)]
    assert redact_spans(text, spans) == ("Call [NAME] at [PHONE].", 2)


def test_phi_in_generated_summary_is_transformed_and_counted():
    generated = "Metoprolol 25 mg started; wife Jane at bedside."
    outcome = finalize_summary(SOURCE, generated, [Span(31, 35, PhiType.NAME)])
    assert outcome.method == "generated"
    assert outcome.summary == "Metoprolol 25 mg started; wife [NAME] at bedside."
    assert outcome.phi_found == 1
    assert "Jane" not in outcome.summary


def test_unfaithful_generation_falls_back_to_extractive_with_reason():
    outcome = finalize_summary(SOURCE, "Started metoprolol 100 mg and warfarin.", [])
    assert outcome.method == "extractive"
    assert outcome.fallback_reason == "unfaithful:dose=1,medication=1"
    assert outcome.summary == section_summary(SOURCE)
    assert [f.kind for f in outcome.guard.failures] == ["dose", "medication"]


def test_invented_phone_number_counts_even_though_rescan_replaced_it():
    generated = "Call 617-555-0134."
    outcome = finalize_summary(SOURCE, generated, [Span(5, 17, PhiType.PHONE)])
    assert outcome.method == "extractive"
    assert outcome.phi_found == 1
    assert "617" not in outcome.summary


@pytest.mark.parametrize(
    ("generated", "reason"),
    [(None, "no_generation"), ("  \n ", "empty_generation"), (SOURCE + " More.", "copy")],
)
def test_other_fallback_reasons(generated, reason):
    outcome = finalize_summary(SOURCE, generated, [])
    assert (outcome.method, outcome.fallback_reason) == ("extractive", reason)


def test_inputs_are_checked():
    with pytest.raises(TypeError):
        finalize_summary(b"bytes", "x", [])
    with pytest.raises(ValueError, match="no generated text"):
        finalize_summary(SOURCE, None, [Span(0, 3, PhiType.NAME)])
    with pytest.raises(ValueError, match="past the summary"):
        finalize_summary(SOURCE, "short", [Span(0, 30, PhiType.NAME)])


def test_unfinished_last_sentence_is_dropped_before_the_guard():
    generated = "Started metoprolol 25 mg PO BID. Creatinine was 9"
    outcome = finalize_summary(SOURCE, generated, [], truncated=True)
    assert (outcome.method, outcome.summary) == ("generated", "Started metoprolol 25 mg PO BID.")
    untruncated = finalize_summary(SOURCE, generated, [])  # the model stopped there: the sentence is judged
    assert (untruncated.method, untruncated.summary) == ("generated", "Started metoprolol 25 mg PO BID.")
    assert untruncated.fallback_reason == "partial:number=1"
    assert unfinished_tail("Seen by Dr. [NAME] and") == 0
    assert unfinished_tail("Seen by Dr. [NAME].") == len("Seen by Dr. [NAME].")


def test_truncated_generation_without_a_finished_sentence_falls_back():
    outcome = finalize_summary(SOURCE, "Started metoprolol 25 mg and", [], truncated=True)
    assert (outcome.method, outcome.fallback_reason) == ("extractive", "truncated")


def test_phi_in_a_dropped_tail_is_still_counted():
    generated = "Metoprolol 25 mg started. Wife Jane"
    outcome = finalize_summary(SOURCE, generated, [Span(31, 35, PhiType.NAME)], truncated=True)
    assert outcome.summary == "Metoprolol 25 mg started."
    assert outcome.phi_found == 1


def test_looping_generation_falls_back():
    loop = "Dr. [NAME] is a nephrologist. " * 3
    assert is_repetitive(loop)
    assert not is_repetitive("Started metoprolol 25 mg PO BID. Follow up in clinic on [DATE].")
    assert finalize_summary(SOURCE, loop, []).fallback_reason == "repetitive"


def test_spelled_out_date_with_year_is_one_failure():
    assert kinds("Admitted 21 May 2022.") == [("date", "21 May 2022")]
    assert check_faithfulness("Seen March 3, 2024.", "seen march 3 2024").passed


# The issue's own examples: every invented diagnosis, procedure and drug is caught, whatever the drug list.
FLASH_EDEMA = (
    "Pt with flash pulmonary edema overnight, lasix 80 mg IV with good diuresis. To cath lab this am, "
    "2 stents to LAD. Nitro gtt weaned off. L groin site C/D/I. Plan: heparin gtt, recheck lytes."
)


@pytest.mark.parametrize(
    ("summary", "kind"),
    [
        ("Epilepsy treated with valproate.", "condition"),  # diagnosis not in the note
        ("Brain tumour treated with cisplatin.", "medication"),  # drug outside the old 80-name list
        ("Aortic aneurysm repair done.", "condition"),
        ("Pulmonary edema treated with nitroprusside.", "medication"),
        ("Underwent appendectomy.", "condition"),  # a procedure by its ending
        ("R groin site C/D/I.", "laterality"),  # the note says L groin
    ],
)
def test_guard_checks_every_clinical_entity_against_the_note(summary, kind):
    assert kind in {f.kind for f in check_faithfulness(summary, FLASH_EDEMA).failures}


def test_guard_passes_the_notes_own_entities_in_other_forms():
    summary = "Flash pulmonary edema; lasix 80 mg IV. Cath lab: 2 stents to LAD. Left groin site C/D/I."
    assert check_faithfulness(summary, FLASH_EDEMA).passed


def test_filler_and_copies_are_recognised():
    assert is_filler("This clinical note provides a comprehensive overview of the patient's status.")
    assert is_filler("A: A: A.")
    assert not is_filler("Lasix 80 mg IV with good diuresis.")
    assert copied_share(FLASH_EDEMA[:120], FLASH_EDEMA) == 1.0
    assert copied_share("Diuresed well on lasix; two LAD stents placed in the cath lab.", FLASH_EDEMA) == 0.0


def test_failing_sentences_are_dropped_one_by_one():
    generated = (
        "This note provides a comprehensive overview. Flash pulmonary edema, diuresed with lasix. "
        "Started on valproate for seizures. Two stents to the LAD in the cath lab."
    )
    outcome = finalize_summary(FLASH_EDEMA, generated, [])
    assert outcome.method == "generated"
    assert outcome.summary == "Flash pulmonary edema, diuresed with lasix. Two stents to the LAD in the cath lab."
    assert outcome.fallback_reason == "partial:condition=1,filler=1,medication=1"


def test_only_filler_or_a_copy_falls_back_to_the_extractive_summary():
    filler = finalize_summary(FLASH_EDEMA, "This clinical note provides a comprehensive overview.", [])
    assert (filler.method, filler.fallback_reason) == ("extractive", "filler")
    copy = finalize_summary(FLASH_EDEMA, FLASH_EDEMA[:100].rsplit(" ", 1)[0] + ".", [])
    assert (copy.method, copy.fallback_reason, copy.summary) == ("extractive", "copy", section_summary(FLASH_EDEMA))


def test_the_prompts_worked_example_is_one_the_guard_publishes_whole():
    from pipeline.runtime.summarizer import EXAMPLE_NOTE, EXAMPLE_SUMMARY, SYSTEM_PROMPT

    outcome = finalize_summary(EXAMPLE_NOTE, EXAMPLE_SUMMARY, [])
    assert (outcome.method, outcome.fallback_reason) == ("generated", None)
    assert "DNR = do not resuscitate" in SYSTEM_PROMPT
    # the glossary's expansions are the note's own words when the note has the shorthand
    assert check_faithfulness("New atrial fibrillation; now do not resuscitate.", "NEW AFIB. PT NOW DNR.").passed
