"""The section-aware extractive summarizer: sections in every note style, key events first, nothing added."""

from __future__ import annotations

import json
import re

import pytest

from pipeline.core.summary_extractive import JOINER, SummaryLimits, event_window, section_summary, trim_to_clauses
from pipeline.core.summary_sections import split_sections
from pipeline.core.text_pieces import clauses, sentences
from tests.conftest import SHARED_DATA

CAPS = (
    "NEURO: A&OX3. FOLLOWS COMMANDS. MAE. SLEEPING IN NAPS OVERNIGHT, MEDICATED FOR SHOULDER PAIN WITH GOOD EFFECT."
    "\nCARDIAC: HR 60-80 SR. BP 110-130/60-70. PT HAD TTE WHICH WAS NEGATIVE. WILL HAVE TEE IN AM. PEDAL PULSES "
    "PALPABLE, NO EDEMA, TOLERATING CARDIAC MEDS.\n"
    "RESP- NO VENT CHANGES. PS 10/5 40%, SATS 95-98%. SXT FOR THICK TAN SPUTUM. LUNGS COARSE BILAT, CLEARING "
    "WITH SXT.\n"
    "GU/GI ABD SOFT, U/O 40-60CC/HR. NPO @12AM FOR TEE. TUBE FEEDS AT GOAL UNTIL THEN, MINIMAL RESIDUALS.\n"
    "ID=AFEBRILE. CONT ON VANCO. BLD CX SENT. WBC TRENDING DOWN.\n"
    "SOCIAL: FAMILY MEETING TODAY, PT MADE DNR/DNI.\n"
    "PLAN: TEE IN AM, ? TRANSFER TO FLOOR AFTER."
)
PROSE = (
    "pt alert and oriented x3 this shift. speech and swallow in today, bedside swallow eval done, not to take "
    "solids po. ps decreased to 5 this am, not tolerated, back to 10. plan is for [NAME] to be dialysed tomorrow "
    "with the old line and to go for perm-a-cath placement later this week. will call case mgmt to start rehab "
    "screening. tube feeds to be turned back on shortly."
)


def flat(text: str) -> str:
    return " ".join(text.split())


def assert_only_source_text(summary: str, note: str) -> None:
    """Every line is the note's own text: a heading as written, then sentences (or runs of whole clauses of
    one sentence) of the note, each word for word."""
    source = flat(note)
    for line in summary.splitlines():
        heading, sep, rest = line.partition(": ")
        pieces = [p for part in rest.split(JOINER) for p in sentences(part)]
        body = pieces if sep and heading in note and all(flat(p) in source for p in pieces) else [line]
        for piece in body:
            assert flat(piece) in source, line


def test_sections_in_caps_prose_and_mixed_styles():
    systems = [(s.heading, s.system) for s in split_sections(CAPS)]
    assert systems == [
        ("NEURO", "neuro"),
        ("CARDIAC", "cv"),
        ("RESP", "resp"),
        ("GU/GI", "gi"),
        ("ID", "id"),
        ("SOCIAL", "social"),
        ("PLAN", "plan"),
    ]
    assert [s.system for s in split_sections(PROSE)] == ["preamble"]
    inline = split_sections("PT ALERT. LABS WNL. PULM: O2 @ 4L NP. PLAN: D/C LINES.")
    assert [(s.heading, s.system) for s in inline] == [("", "preamble"), ("PULM", "resp"), ("PLAN", "plan")]
    soap = split_sections("O:NEURO=COMFORTABLE. SLEPT.\n CV=AVP W RATE 70.\nA: stable\nP: cont cvvhdf")
    assert [s.system for s in soap] == ["neuro", "cv", "assessment", "plan"]
    # a line that starts with a word that is no heading, or a short heading word without a separator, is text
    assert [s.system for s in split_sections("Pt stable.\nms changes noted overnight.\nA stable night.")] == [
        "preamble"
    ]


def test_caps_note_summary_has_events_first_then_one_line_per_system_then_plan():
    summary = section_summary(CAPS, SummaryLimits(max_share=1.0))
    lines = summary.splitlines()
    assert_only_source_text(summary, CAPS)
    assert any("DNR/DNI" in line for line in lines[:5])  # the code-status decision is a key event
    assert any("TEE IN AM" in line for line in lines[:5])
    assert lines[-1] == "PLAN: TEE IN AM, ? TRANSFER TO FLOOR AFTER."  # the '?' stays with its plan
    headings = [line.partition(":")[0] for line in lines]
    for heading in ("NEURO", "RESP", "GU/GI", "ID"):
        assert heading in headings
    assert len(summary) < len(CAPS)
    # by default a summary that would be most of its note keeps its events and plan only
    short = section_summary(CAPS)
    assert len(short) <= 0.85 * len(flat(CAPS)) and "DNR/DNI" in short and short.endswith("FLOOR AFTER.")


def test_prose_note_summary_is_its_events_in_note_order():
    summary = section_summary(PROSE)
    assert_only_source_text(summary, PROSE)
    assert "dialysed tomorrow" in summary and "perm-a-cath" in summary and "case mgmt" in summary
    assert summary.index("speech and swallow") < summary.index("dialysed")


def test_nothing_is_cut_inside_a_phrase():
    long_line = "resp: " + ", ".join(f"finding number {i} noted on exam" for i in range(30)) + "."
    summary = section_summary(long_line)
    for line in summary.splitlines():
        body = line.partition(": ")[2] or line
        assert body.endswith((",", ".")), line  # ends at a clause boundary, never mid-phrase
    assert trim_to_clauses("a b c, d e f, g h i", 9) == "a b c,"
    assert event_window("suctioned thick tan, sats 100%, NPO after 12am for trach & peg, family in", 35) == (
        "NPO after 12am for trach & peg,"
    )


def test_text_pieces_keep_decimals_titles_and_question_marks():
    assert sentences("Creatinine 1.4 today. Seen by Dr. [NAME]. ok\nnext") == [
        "Creatinine 1.4 today.",
        "Seen by Dr. [NAME].",
        "ok",
        "next",
    ]
    assert sentences("follow lytes. ? plan for dialysis.") == ["follow lytes.", "? plan for dialysis."]
    assert clauses("a, b - c-- d.. e; f ? g") == ["a,", "b -", "c--", "d..", "e;", "f ? g"]
    assert sentences("lytes ok ? plan for HD. Is he DNR? yes") == ["lytes ok ? plan for HD.", "Is he DNR?", "yes"]
    assert " ".join(clauses("x,  y -  z")) == "x, y - z"


def test_summary_is_deterministic_and_placeholder_sentences_are_not_events():
    note = CAPS + "\nWIFE [NAME] CALLED FROM [PHONE] AT [FACILITY]."
    assert section_summary(note) == section_summary(note)
    assert "[PHONE]" not in section_summary(note)
    assert section_summary("") == "" and section_summary("   \n ") == ""


DEV_NOTES = SHARED_DATA / "physionet_deid_dev" / "notes.jsonl"


@pytest.mark.skipif(not DEV_NOTES.is_file(), reason="the real development notes are not in ../shared/data")
def test_on_every_real_note_the_summary_is_the_notes_own_text_and_shorter():
    """All 1,094 development-half notes, as written (the property holds on redacted text the same way)."""
    notes = [json.loads(line)["text"] for line in DEV_NOTES.read_text(encoding="utf-8").splitlines() if line]
    longer = 0
    for note in notes:
        summary = section_summary(note)
        assert_only_source_text(summary, note)
        longer += len(summary) > len(flat(note))
    assert longer == 0
    assert not re.search(r"\s{2,}", "".join(section_summary(n) for n in notes[:50]).replace("\n", " "))
