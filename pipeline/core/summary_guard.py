"""Deciding what summary of a note is published: the generated one if it is faithful, else an extractive one.

Pure (no model, no I/O). The generative summarizer only ever reads REDACTED text, so everything here
takes the redacted note as the source of truth: a summary may only state numbers, dates, medications and
doses that the redacted note states. A small model invents such details readily (a dose, a follow-up date,
a second drug); one invented dose in a clinical summary is worse than no summary, so any such detail sends
the record to the extractive fallback, which copies whole sentences of the redacted note and so cannot
invent anything.

The summary is also scanned again by the detector (by the caller, which passes the spans here): a model can
reproduce or make up identifiers, and those are replaced by typed placeholders and counted for the audit.

Reasons and failure kinds are fixed strings with counts, never values: they go into records and audit
events, and an invented "number" might be a phone number.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span, disjoint_spans

#: Common inpatient medications (generic names, lower case). Multi-word names are matched as phrases.
MEDICATIONS: tuple[str, ...] = (
    "acetaminophen", "albuterol", "allopurinol", "alprazolam", "amiodarone", "amlodipine", "amoxicillin",
    "ampicillin", "apixaban", "aspirin", "atorvastatin", "azithromycin", "bisoprolol", "bumetanide",
    "carvedilol", "cefazolin", "cefepime", "ceftriaxone", "cephalexin", "ciprofloxacin", "clopidogrel",
    "dexamethasone", "diazepam", "digoxin", "diltiazem", "diphenhydramine", "docusate", "enoxaparin",
    "escitalopram", "famotidine", "fentanyl", "fluconazole", "furosemide", "gabapentin", "haloperidol",
    "heparin", "hydralazine", "hydrochlorothiazide", "hydrocodone", "hydrocortisone", "hydromorphone",
    "ibuprofen", "insulin", "ipratropium", "ketorolac", "labetalol", "levetiracetam", "levofloxacin",
    "levothyroxine", "lidocaine", "lisinopril", "lorazepam", "losartan", "magnesium sulfate", "meropenem",
    "metformin", "methylprednisolone", "metoclopramide", "metoprolol", "metronidazole", "midazolam",
    "morphine", "naloxone", "nitroglycerin", "norepinephrine", "ondansetron", "oxycodone", "pantoprazole",
    "piperacillin", "potassium chloride", "prednisone", "propofol", "quetiapine", "rivaroxaban",
    "senna", "sertraline", "simvastatin", "spironolactone", "tamsulosin", "tramadol", "trazodone",
    "vancomycin", "warfarin", "zosyn",
)  # fmt: skip

#: Endings of generic drug names, to catch drugs the lexicon lacks (only on words of 7+ letters).
_DRUG_SUFFIXES = (
    "olol", "pril", "sartan", "statin", "azole", "cillin", "mycin", "floxacin", "parin", "semide",
    "dipine", "prazole", "tidine", "cycline", "xaban", "gatran", "terol", "olone", "isone", "azepam",
    "oxetine", "triptyline", "glitazone", "gliptin", "flozin", "afil", "setron", "tropium",
)  # fmt: skip
_NOT_DRUGS = frozenset({"cholesterol", "histidine"})

_UNITS = {
    "mg": "mg", "mcg": "mcg", "µg": "mcg", "ug": "mcg", "g": "g", "gm": "g", "gram": "g", "grams": "g",
    "unit": "units", "units": "units", "u": "units", "iu": "units", "ml": "ml", "l": "l", "meq": "meq",
    "mmol": "mmol", "mg/kg": "mg/kg", "mcg/kg/min": "mcg/kg/min", "puff": "puffs", "puffs": "puffs",
    "tab": "tabs", "tabs": "tabs", "tablet": "tabs", "tablets": "tabs",
}  # fmt: skip
_NUMBER = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_DOSE_RE = re.compile(
    rf"(?<![\w.])({_NUMBER})\s*("
    + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True))
    + r")(?![\w/])",
    re.IGNORECASE,
)
_NUMBER_RE = re.compile(rf"(?<![\d.,])(?:{_NUMBER})")
_PLACEHOLDER_RE = re.compile(r"\[(" + "|".join(t.value for t in PhiType) + r")\]")
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov", "Dec",
)  # fmt: skip
#: A month name only counts as a date with a day or year next to it ("May 3", "3 May 2025", "March 2025"),
#: so "may" the verb and "march" the verb are not dates; a year that belongs to the date is part of it.
_MONTH = "(?:" + "|".join(_MONTHS) + r")\b\.?"
_DAY = r"\d{1,2}(?:st|nd|rd|th)?\b"
_YEAR = r"(?:,?\s+\d{4}\b)?"
_MONTH_DATE_RE = re.compile(rf"\b(?:{_MONTH}\s+{_DAY}{_YEAR}|{_DAY}\s+{_MONTH}{_YEAR}|{_MONTH}\s+\d{{4}}\b)")
#: In the source any case counts as a date (a summary may capitalise what the note wrote in lower case).
_MONTH_DATE_ANY_CASE_RE = re.compile(_MONTH_DATE_RE.pattern, re.IGNORECASE)
_MED_RE = re.compile(r"\b(" + "|".join(re.escape(m) for m in sorted(MEDICATIONS, key=len, reverse=True)) + r")\b", re.I)
_WORD_RE = re.compile(r"[A-Za-z][A-Za-z-]+")
_SENTENCE_BREAK_RE = re.compile(r"(?<=[.!?])\s+|\s*\n\s*")
_ABBREVIATIONS = frozenset({"dr.", "mr.", "mrs.", "ms.", "st.", "vs.", "e.g.", "i.e.", "approx.", "no.", "pt."})
_CUES = frozenset(
    """admitted admission discharged discharge started stopped held increased decreased changed diagnosed
    diagnosis denies reports complains shows revealed positive negative plan follow consult transfused
    pain fever infection failure fracture pneumonia sepsis stable improving worsening resolved afebrile
    creatinine hemoglobin glucose pressure lactate culture biopsy surgery procedure imaging cxr ct mri""".split()
)

FailureKind = Literal["number", "date", "placeholder", "medication", "dose"]
Method = Literal["generated", "extractive"]


@dataclass(frozen=True, slots=True)
class GuardFailure:
    """One detail of the summary that the source does not support.

    ``value`` is the offending text, for tests and local debugging only: never put it in a record, log
    or audit event (it may be an invented identifier). Use :attr:`GuardReport.reason` there.
    """

    kind: FailureKind
    value: str


@dataclass(frozen=True, slots=True)
class GuardReport:
    """The result of the faithfulness guard: passed when nothing failed."""

    failures: tuple[GuardFailure, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def reason(self) -> str | None:
        """A value-free reason such as ``unfaithful:dose=1,number=2`` (kinds sorted), or None when passed."""
        if self.passed:
            return None
        counts = Counter(f.kind for f in self.failures)
        return "unfaithful:" + ",".join(f"{kind}={counts[kind]}" for kind in sorted(counts))


@dataclass(frozen=True, slots=True)
class SummaryOutcome:
    """What is published for one note, and why.

    ``phi_found`` counts PHI spans the re-scan found in the generated text (replaced by placeholders),
    whether or not the generated text was kept: the count is about what the model produced, for the audit.
    """

    summary: str
    method: Method
    fallback_reason: str | None
    phi_found: int
    guard: GuardReport = GuardReport()


def _canonical_number(raw: str) -> str:
    """'1,000' == '1000', '1.40' == '1.4', '05' == '5', so formatting alone is never a failure."""
    value = raw.replace(",", "")
    if "." in value:
        value = value.rstrip("0").rstrip(".")
    return value.lstrip("0") or "0"


def _doses(text: str) -> list[tuple[int, int, str]]:
    return [(m.start(), m.end(), f"{_canonical_number(m[1])} {_UNITS[m[2].lower()]}") for m in _DOSE_RE.finditer(text)]


def _blank(text: str, ranges: Sequence[tuple[int, int, str]]) -> str:
    """``text`` with the given ranges spaced out, so their digits are not checked a second time."""
    chars = list(text)
    for start, end, _ in ranges:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _month_dates(text: str, *, any_case: bool = False) -> list[tuple[int, int, str]]:
    found = (_MONTH_DATE_ANY_CASE_RE if any_case else _MONTH_DATE_RE).finditer(text)
    return [(m.start(), m.end(), " ".join(re.sub(r"[.,]", " ", m[0].lower()).split())) for m in found]


def _numbers(text: str) -> list[str]:
    """Numbers outside doses and spelled-out dates (those are checked whole, so one invention counts once)."""
    blanked = _blank(text, [*_doses(text), *_month_dates(text)])
    return [_canonical_number(m[0]) for m in _NUMBER_RE.finditer(blanked)]


def _drug_like(word: str) -> bool:
    lowered = word.lower()
    return len(lowered) >= 7 and lowered not in _NOT_DRUGS and lowered.endswith(_DRUG_SUFFIXES)


def medications_in(text: str) -> set[str]:
    """Lexicon medications and drug-like words (by generic-name ending) in ``text``, lower-cased."""
    found = {m[1].lower() for m in _MED_RE.finditer(text)}
    found.update(w.lower() for w in _WORD_RE.findall(text) if _drug_like(w))
    return found


def check_faithfulness(summary: str, source: str) -> GuardReport:
    """Every number, date, placeholder, medication and dose in ``summary`` must occur in ``source``.

    Doses are compared as (number, unit) so '25 g' does not pass on the strength of '25 mg'; digits inside
    a dose or a spelled-out date are judged by that check only, so one invented dose counts once. Dates in
    redacted text are mostly ``[DATE]`` placeholders; a summary holding a placeholder the source lacks, or
    a spelled-out date ("March 3") the source lacks, has invented it.
    """
    failures: list[GuardFailure] = []
    source_doses = {d for _, _, d in _doses(source)}
    failures += [GuardFailure("dose", d) for _, _, d in _doses(summary) if d not in source_doses]
    source_numbers = set(_numbers(source))
    failures += [GuardFailure("number", n) for n in _numbers(summary) if n not in source_numbers]
    source_placeholders = set(_PLACEHOLDER_RE.findall(source))
    for kind in _PLACEHOLDER_RE.findall(summary):
        if kind not in source_placeholders:
            failures.append(GuardFailure("date" if kind == PhiType.DATE.value else "placeholder", f"[{kind}]"))
    source_dates = {d for _, _, d in _month_dates(source, any_case=True)}
    failures += [GuardFailure("date", summary[a:b]) for a, b, d in _month_dates(summary) if d not in source_dates]
    source_meds = medications_in(source)
    failures += [GuardFailure("medication", med) for med in sorted(medications_in(summary) - source_meds)]
    return GuardReport(tuple(failures))


def sentences(text: str) -> list[str]:
    """Sentences (and lines) of ``text``, stripped, in order, empty ones dropped.

    A break is end punctuation followed by space, or a line break; '1.4' and 'Dr. [NAME]' do not break.
    """
    out: list[str] = []
    glue = False
    for piece in _SENTENCE_BREAK_RE.split(text):
        piece = piece.strip()
        if not piece:
            continue
        if glue and out:
            out[-1] = f"{out[-1]} {piece}"
        else:
            out.append(piece)
        glue = piece.lower().rsplit(" ", 1)[-1] in _ABBREVIATIONS
    return out


def sentence_score(sentence: str) -> float:
    """How much clinical content a sentence carries: drugs, doses, findings and numbers up; PHI placeholders
    down (a sentence that is mostly '[NAME] at bedside; reachable at [PHONE]' says little about the patient).
    """
    words = [w.lower() for w in _WORD_RE.findall(_PLACEHOLDER_RE.sub(" ", sentence))]
    score = 3.0 * len(medications_in(sentence)) + 2.0 * len(_doses(sentence))
    score += sum(1.0 for w in words if w in _CUES)
    score += 0.5 * len(_NUMBER_RE.findall(_PLACEHOLDER_RE.sub(" ", sentence)))
    score += min(len(words), 12) / 6.0
    return score - 1.5 * len(_PLACEHOLDER_RE.findall(sentence))


def extractive_summary(redacted: str, *, max_sentences: int = 3, max_chars: int = 400) -> str:
    """The highest-scoring distinct sentences of the redacted note, in note order; deterministic.

    Ties go to the earlier sentence. The first chosen sentence is always kept (cut at ``max_chars``);
    later ones only while the total stays within ``max_chars``.
    """
    if max_sentences < 1 or max_chars < 1:
        raise ValueError("max_sentences and max_chars must be at least 1")
    distinct: dict[str, int] = {}
    for index, sentence in enumerate(sentences(redacted)):
        distinct.setdefault(sentence, index)
    ranked = sorted(distinct.items(), key=lambda item: (-sentence_score(item[0]), item[1]))
    chosen: list[tuple[int, str]] = []
    used = 0
    for sentence, index in ranked[:max_sentences]:
        cost = len(sentence) + (1 if chosen else 0)
        if chosen and used + cost > max_chars:
            continue
        chosen.append((index, sentence[:max_chars]))
        used += cost
    return " ".join(sentence for _, sentence in sorted(chosen))


def redact_spans(text: str, spans: Sequence[Span]) -> tuple[str, int]:
    """``text`` with each (merged) span replaced by its typed placeholder, and how many were replaced.

    Overlapping spans are merged first, the higher score's type winning, as the transform engine does.
    """
    beyond = min((s for s in spans if s.end > len(text)), key=lambda s: (s.start, -s.end), default=None)
    if beyond is not None:
        raise ValueError(f"a re-scan span ends at {beyond.end}, past the summary ({len(text)} characters)")
    merged = disjoint_spans(spans)
    pieces: list[str] = []
    cursor = 0
    for span in merged:
        pieces += [text[cursor : span.start], f"[{span.type.value}]"]
        cursor = span.end
    pieces.append(text[cursor:])
    return "".join(pieces), len(merged)


def unfinished_tail(text: str) -> int:
    """Where the text's unfinished last sentence starts (a generation cut by its token budget).

    ``len(text)`` when the text ends with end punctuation; 0 when no sentence in it is finished.
    """
    stripped = text.rstrip()
    if stripped and stripped[-1] in ".!?":
        return len(text)
    cut = 0
    for match in _SENTENCE_BREAK_RE.finditer(stripped):
        last_word = stripped[: match.start()].rsplit(None, 1)[-1].lower() if match.start() else ""
        if stripped[match.start() - 1 : match.start()] in (".", "!", "?") and last_word not in _ABBREVIATIONS:
            cut = match.start()
    return cut


def is_repetitive(text: str, n: int = 4, times: int = 3) -> bool:
    """True when some run of ``n`` words occurs ``times`` times or more: the loop a small greedy model
    falls into ("Dr. [NAME] is a nephrologist. Dr. [NAME] is a nephrologist. ...")."""
    words = text.lower().split()
    grams = Counter(tuple(words[i : i + n]) for i in range(len(words) - n + 1))
    return any(count >= times for count in grams.values())


def finalize_summary(
    source_redacted: str,
    generated: str | None,
    rescan_spans: Sequence[Span],
    *,
    truncated: bool = False,
    max_sentences: int = 3,
    max_chars: int = 400,
) -> SummaryOutcome:
    """The summary to publish for one note.

    ``source_redacted`` must be the REDACTED note (the text published on the redacted topic), the same text
    the generator was given; ``generated`` is the generator's output for it, or None when no generator ran
    (summaries disabled, model failed); ``rescan_spans`` are the detector's spans over ``generated``;
    ``truncated`` says the token budget ran out before the model stopped (``Generation.truncated``).

    Of a truncated generation, the unfinished last sentence is dropped (and with no finished sentence at
    all, the extractive summary is used). The rest is kept only
    when it is non-empty, passes :func:`check_faithfulness` (checked before PHI replacement, so an invented
    phone number counts as an invented number even though the re-scan also replaces it), does not loop
    (:func:`is_repetitive`) and is shorter than the source. Otherwise the extractive summary of the source
    is used and ``fallback_reason`` says why, as a value-free code.
    """
    if not isinstance(source_redacted, str):
        raise TypeError("source_redacted must be the redacted note text (str)")
    if generated is None and rescan_spans:
        raise ValueError("rescan_spans were given but there is no generated text they could refer to")
    _, phi_found = redact_spans(generated or "", rescan_spans)  # everything the model produced counts
    cut = unfinished_tail(generated or "") if truncated else len(generated or "")
    kept = (generated or "")[:cut]
    kept_spans = [Span(s.start, min(s.end, cut), s.type, s.score, s.detector) for s in rescan_spans if s.start < cut]
    cleaned, _ = redact_spans(kept, kept_spans)
    cleaned = " ".join(cleaned.split())

    def fallback(reason: str, guard: GuardReport = GuardReport()) -> SummaryOutcome:
        text = extractive_summary(source_redacted, max_sentences=max_sentences, max_chars=max_chars)
        return SummaryOutcome(text, "extractive", reason, phi_found, guard)

    if generated is None:
        return fallback("no_generation")
    if not generated.strip():
        return fallback("empty_generation")
    if not cleaned:
        return fallback("truncated")  # cut off by the token budget with no finished sentence to keep
    guard = check_faithfulness(kept, source_redacted)
    if not guard.passed:
        return fallback(guard.reason or "unfaithful", guard)
    if is_repetitive(cleaned):
        return fallback("repetitive", guard)
    if len(cleaned) >= len(" ".join(source_redacted.split())):
        return fallback("not_shorter_than_source", guard)
    return SummaryOutcome(cleaned, "generated", None, phi_found, guard)
