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

from pipeline.core.clinical_terms import drugs_in
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
#: What naming a drug adds: a drug started, changed or held is handover material.
DRUG_WEIGHT = 1.5
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

    system_chars: int = 80
    event_chars: int = 140
    plan_chars: int = 240
    lead_chars: int = 200
    events_base: int = 3
    events_per_chars: int = 400
    events_max: int = 6
    #: A sentence scoring below this is no key event (one procedure or transfer cue alone is 3, a consult 2.5).
    event_threshold: float = 2.5
    #: A note without system headings is all story: it gets this many more events.
    unsectioned_bonus: int = 2
    #: A summary longer than this share of its note drops system lines, least eventful first.
    max_share: float = 0.85
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
    if drugs_in(sentence):
        score += DRUG_WEIGHT
    if _ROUTINE_RE.search(sentence):
        score -= 2.0
    return score


def _usable(sentence: str) -> bool:
    """Not boilerplate ('see carevue'), and saying something beyond placeholders ('[NAME] at [PHONE]')."""
    words = _WORD_RE.findall(_PLACEHOLDER_RE.sub(" ", sentence))
    placeholders = len(_PLACEHOLDER_RE.findall(sentence))
    return bool(words) and placeholders * 2 <= len(words) and not _BOILERPLATE_RE.search(sentence)


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


#: Between two sentences of one line when the first has no end punctuation of its own ('status unchanged'
#: then 'vent on 5/5'), so that they do not read as one phrase.
JOINER = " | "


def join_within(texts: list[str], budget: int) -> str:
    """Whole sentences from the start of ``texts`` while they fit ``budget`` characters (the first one cut
    at a clause boundary if it alone is longer), joined by a space, or by :data:`JOINER` after a sentence
    without end punctuation."""
    out = ""
    for index, text in enumerate(texts):
        flat = " ".join(text.split())
        if index == 0:
            out = trim_to_clauses(flat, budget)
            if len(out) < len(flat):
                break
            continue
        glue = " " if out.endswith((".", "!", "?", ";", ",", ":")) else JOINER
        if len(out) + len(glue) + len(flat) > budget:
            break
        out += glue + flat
    return out


def event_window(sentence: str, budget: int, longest: int = DEFAULT_LIMITS.longest_piece) -> str:
    """The run of whole clauses of ``sentence`` around its most eventful clause that fits ``budget``
    characters: the clause itself, then its neighbours, the earlier one first (a long run-on line such as
    '... lung sounds coarse- suctioned thick tan mucous- ABG 7.41-55-134 NPO after 12am for trach & peg'
    gives the part that holds the event, not its first hundred characters)."""
    parts = clauses(sentence)
    if len(" ".join(parts)) <= budget:
        return " ".join(parts)
    scores = [event_score(p) + (0.5 if drugs_in(p) else 0.0) for p in parts]
    best = max(range(len(parts)), key=lambda i: (scores[i], -i))
    first = last = best
    size = len(parts[best])
    while True:
        grown = False
        for candidate in (first - 1, last + 1):
            if 0 <= candidate < len(parts) and size + 1 + len(parts[candidate]) <= budget:
                size += 1 + len(parts[candidate])
                first, last = min(first, candidate), max(last, candidate)
                grown = True
                break
        if not grown:
            break
    window = " ".join(parts[first : last + 1])
    return window if len(window) <= longest else window[:longest].rsplit(" ", 1)[0]


def _pieces(section: Section, index: int) -> list[_Piece]:
    return [_Piece(index, order, s) for order, s in enumerate(sentences(section.text)) if _usable(s)]


def _heading(section: Section) -> str:
    return f"{section.heading}: " if section.heading else ""


def section_summary(note: str, limits: SummaryLimits = DEFAULT_LIMITS) -> str:
    """The extractive summary of ``note`` (redacted text), one line per item, in the order described in the
    module docstring; empty only for a note with no words.

    A summary that would be more than ``limits.max_share`` of its note (a short, dense note whose system
    lines would only repeat it) loses its least eventful system lines first; events, opening and plan stay.
    A note of a line or two whose events alone are as long as it gets its most eventful clauses, cut to half
    the note."""
    sections = split_sections(note)
    pieces = {i: _pieces(s, i) for i, s in enumerate(sections)}
    size = len(" ".join(note.split()))
    lines = _assemble(note, sections, pieces, limits)

    def length() -> int:
        return sum(len(text) + 1 for _, text in lines) - 1 if lines else 0

    while length() > limits.max_share * size and any(system for system, _ in lines):
        weakest = min(
            (i for i, (system, _) in enumerate(lines) if system), key=lambda i: (event_score(lines[i][1]), -i)
        )
        del lines[weakest]
    if length() < size or not lines:
        return "\n".join(text for _, text in lines)
    ranked = sorted((p for i in pieces for p in pieces[i]), key=lambda p: (-event_score(p.text), p.section, p.order))
    return event_window(ranked[0].text, max(size // 2, 1))


def _assemble(
    note: str, sections: list[Section], pieces: dict[int, list[_Piece]], limits: SummaryLimits
) -> list[tuple[bool, str]]:
    """The summary's lines, each with whether it is a system line (the ones a short note can do without)."""
    lines: list[tuple[bool, str]] = []
    used: set[tuple[int, int]] = set()

    lead = _lead(sections, pieces)
    if lead is not None:
        used.add((lead.section, lead.order))
        lines.append((False, trim_to_clauses(lead.text, limits.lead_chars)))

    frame = {"assessment", "plan", "assessment_plan"}
    candidates = [
        (event_score(p.text), p)
        for i, s in enumerate(sections)
        if s.system not in frame and not _SKIPPED_HEADINGS.match(s.heading)
        for p in pieces[i]
        if (p.section, p.order) not in used
    ]
    wanted = min(limits.events_max, limits.events_base + len(note) // limits.events_per_chars)
    if not any(s.system not in _NO_LINE for s in sections):
        wanted += limits.unsectioned_bonus
    ranked = sorted(
        (c for c in candidates if c[0] >= limits.event_threshold), key=lambda c: (-c[0], c[1].section, c[1].order)
    )
    events = sorted((p for _, p in ranked[:wanted]), key=lambda p: (p.section, p.order))
    for piece in events:
        used.add((piece.section, piece.order))
        section = sections[piece.section]
        prefix = _heading(section) if section.system not in _NO_LINE else ""
        lines.append((False, prefix + event_window(piece.text, limits.event_chars)))

    for i, section in enumerate(sections):
        if section.system in _NO_LINE or _SKIPPED_HEADINGS.match(section.heading):
            continue
        rest = [p for p in pieces[i] if (p.section, p.order) not in used]
        if rest:
            lines.append((True, _heading(section) + join_within([p.text for p in rest], limits.system_chars)))

    for i, section in enumerate(sections):
        if section.system in frame and pieces[i]:
            lines.append((False, _heading(section) + join_within([p.text for p in pieces[i]], limits.plan_chars)))
    return [(system, text) for system, text in lines if text.strip()]


def _lead(sections: list[Section], pieces: dict[int, list[_Piece]]) -> _Piece | None:
    """The opening sentence when the note opens with one (a preamble, or a history section's first line)."""
    for i, section in enumerate(sections[:2]):
        if section.system in ("preamble", "history") and not _SKIPPED_HEADINGS.match(section.heading):
            for piece in pieces[i]:
                if len(_WORD_RE.findall(piece.text)) >= 4:
                    return piece
    return None
