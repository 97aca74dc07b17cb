"""Deciding what summary of a note is published: the generated one where it is faithful, else extractive.

Pure (no model, no I/O). The generative summarizer only ever reads REDACTED text, so everything here
takes the redacted note as the source of truth: a summary may only state numbers, dates, doses, drugs,
diagnoses, findings, procedures and sides ('left', 'R') that the redacted note states
(:mod:`pipeline.core.clinical_terms` says which words are such entities). A small model invents such details
readily (a dose, a diagnosis, a second drug); one invented entity in a clinical summary is worse than no
summary. So the guard judges a generation sentence by sentence: a sentence with any unsupported entity, or
one that is filler ('This note provides a comprehensive overview ...'), is dropped; a generation left with
no sentence, or one that copies the note nearly word for word, or loops, gives way to the section-aware
extractive summary (:func:`pipeline.core.summary_extractive.section_summary`), which copies whole phrases
of the redacted note and so cannot invent anything.

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

from pipeline.core.clinical_terms import SourceWords, conditions_in, drugs_in, laterality_in
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span, disjoint_spans
from pipeline.core.summary_extractive import section_summary
from pipeline.core.text_pieces import ABBREVIATIONS, SENTENCE_BREAK_RE, sentence_spans

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
FailureKind = Literal["number", "date", "placeholder", "medication", "dose", "condition", "laterality", "filler"]
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
    """Drugs in ``text``, lower-cased: the shipped drug dictionary, the common-inpatient list (multi-word names
    as phrases) and drug-like words by generic-name ending (for drugs neither lists)."""
    found = {m[1].lower() for m in _MED_RE.finditer(text)} | drugs_in(text)
    found.update(w.lower() for w in _WORD_RE.findall(text) if _drug_like(w))
    return found


#: Wording that says nothing about the patient: what a small model writes when it has nothing to say.
_FILLER_RE = re.compile(
    r"\b(?:this (?:clinical |medical |nursing )?(?:note|summary|report|document)|comprehensive overview|"
    r"provides? (?:a|an) (?:overview|summary|detailed)|(?:the )?(?:following|above) (?:note|summary)|"
    r"in summary|to summari[sz]e|summary of the|as an ai|i am (?:an? )?|clinical trial|it is important)\b",
    re.IGNORECASE,
)


def is_filler(sentence: str) -> bool:
    """True for a sentence about the note rather than the patient, or with too few words to state anything
    ('A: A: A.')."""
    content = [w for w in _WORD_RE.findall(_PLACEHOLDER_RE.sub(" ", sentence)) if len(w) > 1]
    return bool(_FILLER_RE.search(sentence)) or len(content) < 2


def check_faithfulness(summary: str, source: str) -> GuardReport:
    """Every number, date, placeholder, dose, drug, diagnosis/finding/procedure and side in ``summary`` must
    occur in ``source``.

    Doses are compared as (number, unit) so '25 g' does not pass on the strength of '25 mg'; digits inside
    a dose or a spelled-out date are judged by that check only, so one invented dose counts once. Dates in
    redacted text are mostly ``[DATE]`` placeholders; a summary holding a placeholder the source lacks, or
    a spelled-out date ("March 3") the source lacks, has invented it. A drug, condition or procedure word
    counts as in the source when the source has it or a word with its first six letters
    (:class:`pipeline.core.clinical_terms.SourceWords`); a side counts with the word it qualifies
    ('L groin' is not supported by 'R groin').
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
    known = SourceWords(source)
    source_meds = medications_in(source)
    failures += [
        GuardFailure("medication", med)
        for med in sorted(medications_in(summary) - source_meds)
        if not all(known.has(w) for w in med.split())
    ]
    conditions = conditions_in(summary) - medications_in(summary)  # a drug ICD-10-CM names is judged once
    failures += [GuardFailure("condition", w) for w in sorted(conditions) if not known.has(w)]
    failures += [
        GuardFailure("laterality", f"{side} {word}") for side, word in sorted(laterality_in(summary))
        if not known.has_side((side, word))
    ]  # fmt: skip
    return GuardReport(tuple(failures))


def copied_share(summary: str, source: str, n: int = 6) -> float:
    """Share of the summary's word ``n``-grams that occur in the source: near 1 for a copy of the note's
    lines, which says nothing the extractive summary would not say better."""
    words = summary.lower().split()
    if len(words) < n + 2:  # one copied sentence of a few words is a fact, not a copy of the note
        return 0.0
    src = source.lower().split()
    source_grams = {tuple(src[i : i + n]) for i in range(len(src) - n + 1)}
    grams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    return sum(g in source_grams for g in grams) / len(grams)


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
    for match in SENTENCE_BREAK_RE.finditer(stripped):
        last_word = stripped[: match.start()].rsplit(None, 1)[-1].lower() if match.start() else ""
        if stripped[match.start() - 1 : match.start()] in (".", "!", "?") and last_word not in ABBREVIATIONS:
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
    max_copied_share: float = 0.8,
) -> SummaryOutcome:
    """The summary to publish for one note.

    ``source_redacted`` must be the REDACTED note (the text published on the redacted topic), the same text
    the generator was given; ``generated`` is the generator's output for it, or None when no generator ran
    (the extractive summarizer chosen, model failed); ``rescan_spans`` are the detector's spans over
    ``generated``; ``truncated`` says the token budget ran out before the model stopped.

    Of a truncated generation, the unfinished last sentence is dropped. Then sentence by sentence: filler
    (:func:`is_filler`) and any sentence that fails :func:`check_faithfulness` (checked before PHI
    replacement, so an invented phone number counts as an invented number even though the re-scan also
    replaces it) are dropped, and ``fallback_reason`` counts them (``partial:condition=1``). What is left is
    published when it is non-empty, does not loop (:func:`is_repetitive`), is not a near copy of the note
    (:func:`copied_share`) and is shorter than the note. Otherwise the section-aware extractive summary of
    the note is published and ``fallback_reason`` says why, as a value-free code.
    """
    if not isinstance(source_redacted, str):
        raise TypeError("source_redacted must be the redacted note text (str)")
    if generated is None and rescan_spans:
        raise ValueError("rescan_spans were given but there is no generated text they could refer to")
    _, phi_found = redact_spans(generated or "", rescan_spans)  # everything the model produced counts
    cut = unfinished_tail(generated or "") if truncated else len(generated or "")
    kept = (generated or "")[:cut]

    def fallback(reason: str, guard: GuardReport = GuardReport()) -> SummaryOutcome:
        return SummaryOutcome(section_summary(source_redacted), "extractive", reason, phi_found, guard)

    if generated is None:
        return fallback("no_generation")
    if not generated.strip():
        return fallback("empty_generation")
    if not kept.strip():
        return fallback("truncated")  # cut off by the token budget with no finished sentence to keep
    if is_repetitive(kept):
        return fallback("repetitive")
    published: list[str] = []
    failures: list[GuardFailure] = []
    dropped: Counter[str] = Counter()
    for start, end in sentence_spans(kept):
        sentence = kept[start:end]
        if is_filler(sentence):
            dropped["filler"] += 1
            continue
        report = check_faithfulness(sentence, source_redacted)
        if not report.passed:
            failures += report.failures
            dropped.update(f.kind for f in report.failures)
            continue
        inside = [
            Span(max(s.start, start) - start, min(s.end, end) - start, s.type, s.score, s.detector)
            for s in rescan_spans
            if s.start < end and s.end > start
        ]
        published.append(" ".join(redact_spans(sentence, inside)[0].split()))
    guard = GuardReport(tuple(failures))
    if not published:
        return fallback(guard.reason or "filler", guard)
    summary = " ".join(published)
    if copied_share(summary, source_redacted) >= max_copied_share:
        return fallback("copy", guard)
    if len(summary) >= len(" ".join(source_redacted.split())):
        return fallback("not_shorter_than_source", guard)
    reason = "partial:" + ",".join(f"{k}={dropped[k]}" for k in sorted(dropped)) if dropped else None
    return SummaryOutcome(summary, "generated", reason, phi_found, guard)
