"""Whose and whether: the context of a term in a note (negation, a relative's history, a negative result).

A NegEx-style reading (Chapman et al. 2001; ConText, Harkema et al. 2009), on the tokens of
:mod:`pipeline.core.token_match` (and commas): a note is cut into clauses at sentence punctuation and line breaks; a
negation cue (``denies``, ``no``, ``negative for``, ``w/o``...) negates the terms up to :data:`NEGATION_SCOPE`
tokens after it in its clause, until a scope terminator (``but``, ``however``...); a negative result
(``negative``, ``neg``, ``nonreactive``, ``0``) right after a screening test negates that test; a relative
(``mother``, ``FHx``...) earlier in the clause, with no word for the patient in between, makes the term
the relative's; a family-history section does the same for everything in it. Past history (``h/o``,
``PMH``) is the patient's own and is left as it is.

Linear in the text: one regular expression without nested repetition splits clauses, the rest is token
look-ups.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: The tokens of :mod:`pipeline.core.token_match` (runs of letters and digits, lower-cased), and commas as
#: tokens of their own, so that no phrase is matched across a comma (``Alcoholic, drinks`` is not
#: ``alcoholic drinks``) while a negation still reaches along a list (``no etoh, tobacco, drugs``).
_TOKEN = re.compile(r"[^\W_]+|,")
#: Clause boundaries: sentence punctuation, semicolons, colons that end a heading, line breaks.
_CLAUSE_END = re.compile(r"[.!?;:\n]+|\s{3,}")
#: A family-history heading starts a section that lasts to the next heading or blank line.
_FAMILY_HEADING = re.compile(r"(?im)^[ \t]*(?:family history|family hx|fhx|fh)[ \t]*[:\-]")
_HEADING = re.compile(r"(?m)^[ \t]*[A-Za-z][A-Za-z /&]{1,30}[ \t]*:|\n[ \t]*\n")
#: A past-history cue (``PMH:``, ``h/o``, ``history of``) starts a history span that lasts to the end of
#: its sentence: a diagnosis listed there is the patient's own.
_HISTORY_CUE = re.compile(
    r"(?i)\b(?:pmh|pmhx|phx|pmed|past medical history|past history|medical history|psych(?:iatric)? history|"
    r"social history|social hx|shx|h/o|hx of|history of|hx|pmh of)\b"
)
_SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")
#: Sentence ends, for a result written after a colon (``hCG: negative``): the same sentence, another clause.
_SENTENCE_END_MARK = re.compile(r"[.!?;]+(?:\s|$)|\n")

NEGATION_SCOPE = 6
_PRE_NEGATION = (
    ("no",), ("not",), ("denies",), ("denied",), ("deny",), ("denying",), ("without",), ("w", "o"), ("never",),
    ("negative", "for"), ("neg", "for"), ("free", "of"), ("absence", "of"), ("nor",), ("non",),
    ("ruled", "out"), ("no", "history", "of"), ("no", "hx", "of"), ("no", "h", "o"),
)  # fmt: skip
_CUES_BY_FIRST: dict[str, list[tuple[str, ...]]] = {}
for _cue in _PRE_NEGATION:
    _CUES_BY_FIRST.setdefault(_cue[0], []).append(_cue)
_TERMINATORS = frozenset({"but", "however", "although", "though", "except", "yet", "aside", "apart", "which", "who"})
_NEGATIVE_RESULT = frozenset({"negative", "neg", "nonreactive", "nr", "0", "none", "normal", "wnl", "undetected"})
_RESULT_SCOPE = 4
_ANSWERED_NO = frozenset({"none", "denies", "denied", "no", "neg", "negative", "never", "nil"})
#: How far back in its clause a relative is looked for (bounds the work on one long clause).
_RELATIVE_SCOPE = 24
_SCREEN_CUES = frozenset({"screened", "screening", "screen", "screens", "assessed", "evaluated"})
_RELATIVES = frozenset(
    {
        "family", "fhx", "fh", "mother", "father", "mom", "dad", "sister", "brother", "sibling", "siblings", "aunt",
        "uncle", "grandmother", "grandfather", "grandparent", "grandparents", "cousin", "niece", "nephew",
        "relative", "relatives", "parents", "maternal", "paternal", "husband", "wife", "spouse", "partner",
        "boyfriend", "girlfriend", "son", "daughter",
    }
)  # fmt: skip
#: Words for the patient: after one of these, a relative earlier in the clause no longer owns the term.
_PATIENT = frozenset({"pt", "patient", "he", "she", "his", "her", "him", "himself", "herself", "client", "self"})
#: Systems-review headings of nursing and ICU progress notes (a note with several is no psychotherapy note).
_NURSING_HEADINGS = re.compile(
    r"(?i)\b(?:neuro|cv|cardiac|cardiovascular|resp|respiratory|pulm|gi|gu|gi/gu|skin|id|heme|endo|renal|"
    r"social|access|lines)\s*[:\-]"
)


@dataclass(frozen=True, slots=True)
class Tokens:
    """A note's lower-cased tokens, their character offsets, and per token its clause and section flags."""

    words: list[str]
    starts: list[int]
    clause: list[int]
    sentence: list[int]
    family_section: list[bool]
    history: list[bool]


def tokenize(text: str) -> Tokens:
    found = list(_TOKEN.finditer(text))
    words = [m.group().lower() for m in found]
    starts = [m.start() for m in found]
    clauses = _numbered(starts, [m.end() for m in _CLAUSE_END.finditer(text)])
    sentences = _numbered(starts, [m.end() for m in _SENTENCE_END_MARK.finditer(text)])
    family = _inside(starts, _spans(text, _FAMILY_HEADING, _HEADING))
    history = _inside(starts, _spans(text, _HISTORY_CUE, _SENTENCE_END))
    return Tokens(words, starts, clauses, sentences, family, history)


def _numbered(starts: list[int], text_bounds: list[int]) -> list[int]:
    """Per token start, how many bounds come before it (the number of its clause or sentence)."""
    numbers, index = [], 0
    for start in starts:
        while index < len(text_bounds) and text_bounds[index] <= start:
            index += 1
        numbers.append(index)
    return numbers


def _inside(starts: list[int], spans: list[tuple[int, int]]) -> list[bool]:
    """Per token start, whether it lies in one of the spans (a sweep: spans come in text order)."""
    flags, ends = [], sorted(spans)
    index, reach = 0, -1
    for start in starts:
        while index < len(ends) and ends[index][0] <= start:
            reach = max(reach, ends[index][1])
            index += 1
        flags.append(start < reach)
    return flags


def _spans(text: str, start: re.Pattern[str], end: re.Pattern[str]) -> list[tuple[int, int]]:
    """From the end of each ``start`` match to the next ``end`` match (or the end of the text)."""
    spans = []
    for cue in start.finditer(text):
        following = end.search(text, cue.end())
        spans.append((cue.end(), following.start() if following else len(text)))
    return spans


def screened(tokens: Tokens, first: int) -> bool:
    """A screening cue (``screened for``, ``screening for``) before the term in its clause: a screen, not a
    finding (its positive result is what counts)."""
    words, clause = tokens.words, tokens.clause
    position = first - 1
    while position >= 0 and clause[position] == clause[first] and first - position <= 2 * NEGATION_SCOPE:
        if words[position] in _SCREEN_CUES and position + 1 < len(words) and words[position + 1] == "for":
            return True
        position -= 1
    return False


def negated(tokens: Tokens, first: int) -> bool:
    """A negation cue up to :data:`NEGATION_SCOPE` tokens before ``first``, in the same clause, with no
    terminator between."""
    words, clause = tokens.words, tokens.clause
    low = max(0, first - NEGATION_SCOPE - 3)
    for position in range(first - 1, low - 1, -1):
        if clause[position] != clause[first] or words[position] in _TERMINATORS:
            return False
        for cue in _CUES_BY_FIRST.get(words[position], ()):
            end = position + len(cue)
            if end <= first and first - end < NEGATION_SCOPE and tuple(words[position:end]) == cue:
                return True
    return False


def negative_result(tokens: Tokens, first: int, length: int) -> bool:
    """A negative result within :data:`_RESULT_SCOPE` tokens after the term, in the same sentence."""
    words, sentence = tokens.words, tokens.sentence
    after = first + length
    for position in range(after, min(len(words), after + _RESULT_SCOPE)):
        if sentence[position] != sentence[first]:
            return False
        if words[position] in _NEGATIVE_RESULT:
            return True
    return False


def answered_no(tokens: Tokens, first: int, length: int) -> bool:
    """A history item answered in the negative right after it, in the same sentence (``EtOH: none``,
    ``Depression - denies``); a comma first means the next item of a list, not an answer."""
    after = first + length
    return (
        after < len(tokens.words)
        and tokens.sentence[after] == tokens.sentence[first]
        and tokens.words[after] in _ANSWERED_NO
    )


def relative_owns(tokens: Tokens, first: int) -> bool:
    """The term is said of a relative: in a family-history section, or a relative named earlier in the
    clause with no word for the patient between them."""
    if tokens.family_section[first]:
        return True
    words, clause = tokens.words, tokens.clause
    position = first - 1
    while position >= max(0, first - _RELATIVE_SCOPE) and clause[position] == clause[first]:
        word = words[position]
        if word in _PATIENT:
            return False
        if word in _RELATIVES:
            return not (word == "family" and position + 1 < first and words[position + 1] in {"meeting", "aware"})
        position -= 1
    return False


def looks_like_nursing_note(text: str) -> bool:
    """Two or more systems-review headings (``NEURO:``, ``CV:``, ``RESP:``...): a nursing or ICU progress
    note, which 45 CFR 164.501 never makes a psychotherapy note."""
    return len({m.group(0).split(":")[0].split("-")[0].strip().lower() for m in _NURSING_HEADINGS.finditer(text)}) >= 2
