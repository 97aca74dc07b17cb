"""The sections of a nursing note: which system each part is about, as the note itself heads it.

ICU progress notes are written by system, in every style: ``NEURO: A&OX3.``, ``neuro- lethargic``,
``CV=AVP W RATE 70``, ``resp; IS very cooperative``, ``GI:GU: Taking po's``, ``C/V B/P ELEVATED`` (no
separator at all, in the terse all-caps style), ``O:NEURO=COMFORTABLE``, and now and then a heading in the
middle of a line (``... LABS WNL. PULM: O2 @ 4L NP``). A prose note has no headings; all of it is then the
preamble. Pure: no I/O, no model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: Heading words and the system each names. A heading is one of these, or several joined by '/' or ':'
#: ('GI/GU', 'ms/neuro', 'GI:GU'), never anything else: a line that starts with another word is text.
HEADING_SYSTEMS: dict[str, str] = {
    **dict.fromkeys(("neuro", "neuros", "ms", "cns", "mental status", "neurologic", "neurological"), "neuro"),
    **dict.fromkeys(
        ("cv", "cvs", "c/v", "cardiac", "card", "cardio", "cardiovascular", "heme/cv", "hemodynamics"), "cv"
    ),
    **dict.fromkeys(("resp", "respiratory", "pulm", "pulmonary", "lungs", "resp care", "respiratory care"), "resp"),
    **dict.fromkeys(("gi",), "gi"),
    **dict.fromkeys(("gu", "renal", "f/e", "fen", "fluids"), "gu"),
    **dict.fromkeys(("id", "infectious disease"), "id"),
    **dict.fromkeys(("heme", "hem", "hematology"), "heme"),
    **dict.fromkeys(("endo", "endocrine"), "endo"),
    **dict.fromkeys(("skin", "integ", "integument", "wound", "wounds", "inc", "incision", "incisions"), "skin"),
    **dict.fromkeys(("access", "lines", "iv access", "acc", "line"), "access"),
    **dict.fromkeys(("pain",), "pain"),
    **dict.fromkeys(("social", "soc", "dispo", "family", "psychosocial"), "social"),
    **dict.fromkeys(("proph", "prophylaxis"), "prophylaxis"),
    **dict.fromkeys(("misc", "labs", "other", "activity", "safety"), "other"),
    **dict.fromkeys(("code", "code status"), "code"),
    **dict.fromkeys(("a", "assessment", "impression"), "assessment"),
    **dict.fromkeys(("p", "plan"), "plan"),
    **dict.fromkeys(("a/p", "a&p", "assessment/plan", "assessment and plan"), "assessment_plan"),
    **dict.fromkeys(("s", "o", "s/o", "subjective", "objective", "ros", "review of systems"), "subjective"),
    **dict.fromkeys(("hpi", "pmh", "pmhx", "hx", "history", "allergies", "meds", "ccu course"), "history"),
}
#: Short headings that are also words or letters on their own: never a heading without a separator.
_WORD_LIKE = frozenset({"a", "p", "s", "o", "ms", "code", "line", "family", "card", "hem", "inc", "soc", "acc"})
_WORDS = sorted(HEADING_SYSTEMS, key=len, reverse=True)
_WORD = "(?:" + "|".join(re.escape(w).replace(r"\ ", r"\s") for w in _WORDS) + ")"
#: 'GI/GU', 'GI:GU', 'o-ms', 'O:NEURO' are headings made of several heading words.
_HEADING = rf"{_WORD}(?:(?:\s?/\s?|:){_WORD})*"
_PARTS_RE = re.compile(r"\s?/\s?|:")
_SEPARATOR = r"(?:\s*(?::|=|;|-{1,2}(?!\d))\s*)"
#: At the start of a line: a heading with a separator, or a separator-free heading followed by a space
#: and text (the all-caps style) that is not a heading of its own ('Respiratory Care:' is one heading);
#: 'o-' and 'O:' before a heading are the note's SOAP letters.
_NOT_A_HEADING_AHEAD = r"(?![A-Za-z]+(?:[ \t][A-Za-z]+){0,2}\s?:)"
_LINE_HEADING_RE = re.compile(
    rf"^[ \t]*(?:[so]\s?[-:]\s?)?(?P<head>{_HEADING})(?P<sep>{_SEPARATOR}|[ \t]+(?=\S){_NOT_A_HEADING_AHEAD})",
    re.IGNORECASE | re.MULTILINE,
)
#: In the middle of a line, only after a sentence end and only with a colon: 'WNL. PULM: O2 @ 4L'.
_INLINE_HEADING_RE = re.compile(rf"(?<=[.!?]\s)(?P<head>{_HEADING})(?P<sep>\s*:\s*)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Section:
    """One part of a note: its heading as written (empty for the preamble), the system it names, and the
    text under it, with the text's start offset in the note."""

    heading: str
    system: str
    text: str
    start: int


def _system(heading: str) -> str:
    parts = [p.strip().lower() for p in _PARTS_RE.split(heading) if p.strip()]
    whole = " ".join(heading.lower().split())
    if whole in HEADING_SYSTEMS:
        return HEADING_SYSTEMS[whole]
    systems = [HEADING_SYSTEMS[p] for p in parts if p in HEADING_SYSTEMS]
    named = [s for s in systems if s not in ("subjective",)] or systems
    return named[-1] if named else "other"


def _heading_ok(match: re.Match[str]) -> bool:
    head = " ".join(match["head"].lower().split())
    separator = match["sep"].strip()
    if separator:
        return True
    # Without a separator only in the all-caps style ('NEURO WAKING', 'GU/GI ABD SOFT', 'ID AFEBRILE'): in
    # mixed case 'Resp Care, pt remains ...' and 'Neuro status unchanged' are sentences. A single letter or a
    # heading that is a word of its own ('A', 'MS', 'CODE') always needs one.
    parts = _PARTS_RE.split(head)
    return match["head"].isupper() and all(len(p) >= 2 and p not in _WORD_LIKE for p in parts)


def split_sections(note: str) -> list[Section]:
    """The note's sections in order; the text before the first heading is a preamble (system ``preamble``).

    Empty sections are kept out. Offsets index ``note`` itself, so every section's text is the note's own.
    """
    marks: list[tuple[int, int, str]] = []  # (heading start, text start, heading as written)
    for regex in (_LINE_HEADING_RE, _INLINE_HEADING_RE):
        for match in regex.finditer(note):
            if _heading_ok(match):
                marks.append((match.start("head"), match.end(), match["head"]))
    marks.sort()
    kept: list[tuple[int, int, str]] = []
    for mark in marks:
        if not kept or mark[0] >= kept[-1][1]:
            kept.append(mark)
    sections: list[Section] = []
    preamble_end = kept[0][0] if kept else len(note)
    if re.search(r"[A-Za-z]{2,}|\d", note[:preamble_end]):  # not a bare SOAP letter ('O:')
        sections.append(Section("", "preamble", note[:preamble_end], 0))
    for index, (_, text_start, heading) in enumerate(kept):
        end = kept[index + 1][0] if index + 1 < len(kept) else len(note)
        body = note[text_start:end]
        if body.strip():
            sections.append(Section(heading.strip(), _system(heading), body, text_start))
    return sections
