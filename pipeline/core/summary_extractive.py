"""The section-aware extractive summary of a redacted note: the default summary, and the guard's fallback.

A handover reads a note by system, and what it must not miss are the events: a code-status decision, a
procedure, a transfer, a consult, a new problem, the plan. So the summary is

1. the note's opening line when it introduces the patient (a transfer note's "70y/o male with CAD ...");
2. the key events, wherever they are in the note, as whole sentences (scored by cue words of each kind);
3. one line per system section, under the note's own heading, from the start of that section;
4. the assessment and the plan.

Every piece is the note's own text (whitespace collapsed), cut only at a sentence or clause boundary, never
inside a phrase; headings are written as the note writes them. Nothing is added, so the summary can state
nothing the note does not. It reads REDACTED text: placeholders such as ``[NAME]`` pass through unchanged
and a sentence that is mostly placeholders is not chosen. Pure and deterministic: the same note always gives
the same summary, whatever else is in its batch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.core.summary_sections import Section, split_sections
from pipeline.core.text_pieces import clauses, sentences

#: Cue patterns of each kind of key event, with the weight one match of the kind adds to a sentence.
EVENT_CUES: dict[str, tuple[float, str]] = {
    "code_status": (
        6.0,
        r"dnr|dni|full code|no cpr|cmo|comfort (?:measures|care)|code status|do not (?:resuscitate|intubate)|"
        r"hospice|guardian\w*",
    ),
    "procedure": (
        3.0,
        r"re-?intubat\w*|extubat\w*|intubat\w*|trach\w*|peg|picc|tlc|central line|swan|cordis|cath|cath lab|"
        r"stents?|angio\w*|a-?gram|emboli[sz]\w*|bronch\w*|ct|ct scan|mri|tee|tte|echo|ultrasound|biopsy|"
        r"dialy[sz]\w*|cvvh\w*|transfus\w*|prbcs?|ffp|bolus|paracentesis|thoracentesis|iabp|pacer|"
        r"defibrillat\w*|cardiover\w*|surgery|xrt|radiation|egd|endoscopy|fluoro\w*|ir|lp|perm-?a-?cath|"
        r"pan cultured|cultured|line placed|placed|removed|inserted|pulled",
    ),
    "transfer": (
        3.0,
        r"transfer\w*|c/o to|call(?:ed)? out|to (?:the )?floor|rehab|discharg\w*|d/c home|admitted|"
        r"to (?:micu|ccu|sicu|icu)|ama",
    ),
    "consult": (
        2.5,
        r"consult\w*|seen by|evaluated by|ethics|social work|sw|case m\w*|speech and swallow|nutrition|"
        r"ep doctors|thoracic|legal|team (?:decided|discussed|aware)",
    ),
    "new_problem": (
        2.0,
        r"a-?fib|raf|vfib|v-?tach|svt|brady\w*|hypotens\w*|febrile|spiked?|fevers?|agitat\w*|unresponsive|"
        r"bleed\w*|hemoptysis|dic|hematoma|positive|sepsis|pneumonia|arrest|seizure\w*|fell|desat\w*|"
        r"chest pain|cp|conduction|ischemi\w*|mi|gib|aspiration|oozing|hemiparesis|hypoxi\w*|apnea|"
        r"abnormalit\w*|worsening|failure|crepitus|rash|restraints?",
    ),
    "change": (
        2.0,
        r"new|started|restarted|initiated|increased|changed|switched|weaned|d/c'?d|dc'?d|discontinued|"
        r"held|tx'?d|treated",
    ),
    "plan": (1.5, r"plan\w*|will|to be|tomorrow|tonight|tonite|in am|scheduled|await\w*|npo after|possible"),
}
_CUE_RES = {
    kind: re.compile(rf"(?<![\w/])(?:{pattern})(?![\w])", re.IGNORECASE) for kind, (_, pattern) in EVENT_CUES.items()
}
_ROUTINE_RE = re.compile(r"\b(?:no (?:vent )?changes?|unchanged|wnl|no issues|no complaints|as usual)\b", re.I)
_BOILERPLATE_RE = re.compile(
    r"\b(?:see (?:carevue|careview|flow ?sheet)|per (?:carevue|careview|flow ?sheet)|as per carevue|"
    r"full assessment|review of systems)\b",
    re.IGNORECASE,
)
_PLACEHOLDER_RE = re.compile(r"\[[A-Z_]+\]")
_WORD_RE = re.compile(r"[A-Za-z]{2,}")
#: Sections whose start is a system line; the others are the patient's story or the note's frame.
_NO_LINE = frozenset({"subjective", "history", "preamble", "assessment", "plan", "assessment_plan"})
#: 'Allergies: NKDA' and the home medicine list are not handover lines.
_SKIPPED_HEADINGS = re.compile(r"^(?:allergies|meds)$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SummaryLimits:
    """How much of a note goes into its summary: characters per system line, per assessment/plan line, per
    opening line, and how many key events (``events_base`` plus one per ``events_per_chars`` of note)."""

    system_chars: int = 110
    plan_chars: int = 240
    lead_chars: int = 200
    events_base: int = 2
    events_per_chars: int = 500
    events_max: int = 6
    #: A sentence this long or longer that has no clause boundary is kept whole only up to this size.
    longest_piece: int = 400


DEFAULT_LIMITS = SummaryLimits()


@dataclass(frozen=True, slots=True)
class _Piece:
    section: int
    order: int
    text: str


def event_score(sentence: str) -> float:
    """How strongly a sentence reports a key event: the weight of each kind of cue it holds, once per kind,
    less for routine wording ('no changes'), and nothing for a sentence that is mostly placeholders."""
    words = _WORD_RE.findall(_PLACEHOLDER_RE.sub(" ", sentence))
    if len(words) < 2 or len(_PLACEHOLDER_RE.findall(sentence)) * 2 > len(words):
        return 0.0
    score = sum(EVENT_CUES[kind][0] for kind, regex in _CUE_RES.items() if regex.search(sentence))
    if _ROUTINE_RE.search(sentence):
        score -= 2.0
    return score


def _usable(sentence: str) -> bool:
    return bool(_WORD_RE.search(_PLACEHOLDER_RE.sub(" ", sentence))) and not _BOILERPLATE_RE.search(sentence)


def trim_to_clauses(text: str, budget: int, longest: int = DEFAULT_LIMITS.longest_piece) -> str:
    """The longest run of ``text``'s leading clauses that fits ``budget`` characters (at least the first
    clause, and that one whole up to ``longest`` characters, else cut at its last word boundary that fits:
    a run-on all-caps line has no clause boundary at all). Whitespace is collapsed."""
    flat = " ".join(text.split())
    if len(flat) <= budget:
        return flat
    kept = ""
    for clause in clauses(flat):
        candidate = f"{kept} {clause}".strip() if kept else clause
        if kept and len(candidate) > budget:
            break
        kept = candidate
        if len(kept) >= budget:
            break
    if len(kept) > longest:
        kept = kept[:longest].rsplit(" ", 1)[0]
    return kept


def _pieces(section: Section, index: int) -> list[_Piece]:
    return [_Piece(index, order, s) for order, s in enumerate(sentences(section.text)) if _usable(s)]


def _heading(section: Section) -> str:
    return f"{section.heading}: " if section.heading else ""


def section_summary(note: str, limits: SummaryLimits = DEFAULT_LIMITS) -> str:
    """The extractive summary of ``note`` (redacted text), one line per item, in the order described in the
    module docstring; empty only for a note with no words."""
    sections = split_sections(note)
    pieces = {i: _pieces(s, i) for i, s in enumerate(sections)}
    lines: list[str] = []
    used: set[tuple[int, int]] = set()

    lead = _lead(sections, pieces)
    if lead is not None:
        used.add((lead.section, lead.order))
        lines.append(trim_to_clauses(lead.text, limits.lead_chars))

    frame = {"assessment", "plan", "assessment_plan"}
    candidates = [
        (event_score(p.text), p)
        for i, s in enumerate(sections)
        if s.system not in frame and not _SKIPPED_HEADINGS.match(s.heading)
        for p in pieces[i]
        if (p.section, p.order) not in used
    ]
    wanted = min(limits.events_max, limits.events_base + len(note) // limits.events_per_chars)
    ranked = sorted((c for c in candidates if c[0] >= 3.5), key=lambda c: (-c[0], c[1].section, c[1].order))
    events = sorted((p for _, p in ranked[:wanted]), key=lambda p: (p.section, p.order))
    for piece in events:
        used.add((piece.section, piece.order))
        section = sections[piece.section]
        prefix = _heading(section) if section.system not in _NO_LINE else ""
        lines.append(prefix + trim_to_clauses(piece.text, limits.plan_chars))

    for i, section in enumerate(sections):
        if section.system in _NO_LINE or _SKIPPED_HEADINGS.match(section.heading):
            continue
        rest = [p for p in pieces[i] if (p.section, p.order) not in used]
        if rest:
            lines.append(_heading(section) + trim_to_clauses(" ".join(p.text for p in rest), limits.system_chars))

    for i, section in enumerate(sections):
        if section.system in frame and pieces[i]:
            lines.append(_heading(section) + trim_to_clauses(" ".join(p.text for p in pieces[i]), limits.plan_chars))
    return "\n".join(line for line in lines if line.strip())


def _lead(sections: list[Section], pieces: dict[int, list[_Piece]]) -> _Piece | None:
    """The opening sentence when the note opens with one (a preamble, or a history section's first line)."""
    for i, section in enumerate(sections[:2]):
        if section.system in ("preamble", "history") and not _SKIPPED_HEADINGS.match(section.heading):
            for piece in pieces[i]:
                if len(_WORD_RE.findall(piece.text)) >= 4:
                    return piece
    return None
