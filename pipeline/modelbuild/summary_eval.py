"""Score summarizers on hand-written references for real notes: key events covered, unsupported statements.

The references (``models/summary_eval/references.jsonl``) hold, per development-half note id, the key events
a handover must carry and one line per system, written by hand from the note and holding no PHI; the note
text itself is never in the repository and is read from the shared data folder at run time. They are a test
set only: nothing is trained or calibrated on them.

Figures, per method, over every reference note:

- key-event recall: the share of reference key events the summary covers. An event is covered when at
  least :data:`COVER_SHARE` of its content words (stop words and numbers left out) occur in the summary,
  a word matching when the summary has it or, for words of five letters or more, a word with the same
  first five letters ('intubated' / 'intubation');
- system-line coverage: the same test (:data:`SYSTEM_SHARE`) on each reference system line;
- unsupported statements per summary: the clinical entities, numbers, doses, dates and sides of the summary
  that its redacted note does not state (:func:`pipeline.core.summary_guard.check_faithfulness`), plus
  filler sentences (:func:`pipeline.core.summary_guard.is_filler`) that are not the note's own words;
- median length in characters, and seconds per note (the summarizer alone; redaction is timed apart).

The two baselines the issue measured are here too: the old extractive fallback (the three highest-scoring
sentences, cut at 400 characters) and a lead sentence plus the first sentence of each system section.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.core.summary_guard import check_faithfulness, is_filler, medications_in
from pipeline.core.summary_sections import split_sections
from pipeline.core.text_pieces import sentences

REFERENCES = Path(__file__).resolve().parents[2] / "models" / "summary_eval" / "references.jsonl"
COVER_SHARE = 0.6
SYSTEM_SHARE = 0.5
_PREFIX = 5
_TOKEN_RE = re.compile(r"[a-z][a-z0-9/&'+-]*")
STOPWORDS = frozenset(
    """
    a an the and or of to in on at by for with from as is are was were be been being has have had it its this
    that these those there then than but not no nor so if into onto per via after before until up down out
    over under again still also all any some each other more most much many few own same such only very can
    will would should could may might must do does did done pt pt's patient patients pts he she his her him
    they them their we our us i me my you your who whom which what when where why how about around near
    """.split()
)


@dataclass(frozen=True)
class Reference:
    """One note's hand-written reference: its key events, system lines and plan."""

    id: str
    style: str
    key_events: tuple[str, ...]
    systems: Mapping[str, str]
    plan: str = ""


def load_references(path: Path = REFERENCES) -> list[Reference]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(
                Reference(row["id"], row["style"], tuple(row["key_events"]), row["systems"], row.get("plan", ""))
            )
    return out


def select_notes(rows: Sequence[Mapping[str, str]]) -> list[str]:
    """The ids the references were written for (the rule in ``models/summary_eval/README.md``): notes in
    SHA-256-of-id order, 300 characters or more, filling style (all-caps share of letters above 0.5) by
    length band (under 800, under 1,500, longer) cells of 7, 7 and 6 notes per style."""
    quota = {(caps, band): 6 if band == 2 else 7 for caps in (False, True) for band in (0, 1, 2)}
    chosen: list[str] = []
    for row in sorted(rows, key=lambda r: hashlib.sha256(r["id"].encode()).hexdigest()):
        text = row["text"]
        if len(text) < 300:
            continue
        letters = sum(c.isalpha() for c in text)
        caps = sum(c.isupper() for c in text) / max(letters, 1) > 0.5
        cell = (caps, 0 if len(text) < 800 else 1 if len(text) < 1500 else 2)
        if quota[cell] > 0:
            quota[cell] -= 1
            chosen.append(row["id"])
    return chosen


def content_words(text: str) -> list[str]:
    """Lower-case words of ``text`` that carry content: no stop words, no bare numbers, no punctuation."""
    words = (w.strip("'-/&+") for w in _TOKEN_RE.findall(text.lower()))
    return [w for w in words if len(w) > 1 and w not in STOPWORDS]


class SummaryWords:
    """The words of a summary, for asking whether a reference phrase is covered."""

    def __init__(self, summary: str) -> None:
        self._words = set(content_words(summary))
        self._prefixes = {w[:_PREFIX] for w in self._words if len(w) >= _PREFIX}

    def has(self, word: str) -> bool:
        return word in self._words or (len(word) >= _PREFIX and word[:_PREFIX] in self._prefixes)

    def covers(self, phrase: str, share: float = COVER_SHARE) -> bool:
        words = content_words(phrase)
        return bool(words) and sum(self.has(w) for w in words) >= share * len(words)


# The old extractive fallback, kept here only as a baseline to measure the new summarizer against.
_LEGACY_CUES = frozenset(
    """admitted admission discharged discharge started stopped held increased decreased changed diagnosed
    diagnosis denies reports complains shows revealed positive negative plan follow consult transfused
    pain fever infection failure fracture pneumonia sepsis stable improving worsening resolved afebrile
    creatinine hemoglobin glucose pressure lactate culture biopsy surgery procedure imaging cxr ct mri""".split()
)
_LEGACY_WORD_RE = re.compile(r"[A-Za-z][A-Za-z-]+")
_LEGACY_PLACEHOLDER_RE = re.compile(r"\[[A-Z_]+\]")
_LEGACY_DOSE_RE = re.compile(r"\d+(?:\.\d+)?\s*(?:mg|mcg|g|units?|ml|meq)\b", re.IGNORECASE)
_LEGACY_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")


def _legacy_score(sentence: str) -> float:
    plain = _LEGACY_PLACEHOLDER_RE.sub(" ", sentence)
    words = [w.lower() for w in _LEGACY_WORD_RE.findall(plain)]
    score = 3.0 * len(medications_in(sentence)) + 2.0 * len(_LEGACY_DOSE_RE.findall(sentence))
    score += sum(1.0 for w in words if w in _LEGACY_CUES) + 0.5 * len(_LEGACY_NUMBER_RE.findall(plain))
    return score + min(len(words), 12) / 6.0 - 1.5 * len(_LEGACY_PLACEHOLDER_RE.findall(sentence))


def legacy_extractive(note: str, max_sentences: int = 3, max_chars: int = 400) -> str:
    """The old fallback: the top-scoring distinct sentences in note order, the first cut at ``max_chars``."""
    distinct: dict[str, int] = {}
    for index, sentence in enumerate(sentences(note)):
        distinct.setdefault(sentence, index)
    ranked = sorted(distinct.items(), key=lambda item: (-_legacy_score(item[0]), item[1]))
    chosen: list[tuple[int, str]] = []
    used = 0
    for sentence, index in ranked[:max_sentences]:
        cost = len(sentence) + (1 if chosen else 0)
        if chosen and used + cost > max_chars:
            continue
        chosen.append((index, sentence[:max_chars]))
        used += cost
    return " ".join(sentence for _, sentence in sorted(chosen))


def lead_plus_systems(note: str) -> str:
    """The plain baseline: the note's first sentence, then the first sentence of every other section."""
    lines: list[str] = []
    for section in split_sections(note):
        first = next(iter(sentences(section.text)), "")
        if first:
            lines.append(f"{section.heading}: {first}" if section.heading else first)
    return "\n".join(lines)


Summarize = Callable[[Sequence[str]], Sequence[str]]


@dataclass
class MethodScore:
    """One method's figures over the reference notes."""

    name: str
    events: int = 0
    events_covered: int = 0
    system_lines: int = 0
    system_covered: int = 0
    unsupported: list[int] = field(default_factory=list)
    unsupported_kinds: Counter[str] = field(default_factory=Counter)
    lengths: list[int] = field(default_factory=list)
    seconds: float = 0.0
    per_style: dict[str, list[int]] = field(default_factory=dict)

    @property
    def notes(self) -> int:
        return len(self.lengths)

    def row(self) -> dict[str, object]:
        return {
            "method": self.name,
            "notes": self.notes,
            "key_event_recall": round(self.events_covered / max(self.events, 1), 3),
            "system_line_coverage": round(self.system_covered / max(self.system_lines, 1), 3),
            "unsupported_per_summary": round(sum(self.unsupported) / max(self.notes, 1), 3),
            "summaries_with_unsupported": sum(1 for u in self.unsupported if u),
            "unsupported_kinds": dict(sorted(self.unsupported_kinds.items())),
            "median_chars": statistics.median(self.lengths) if self.lengths else 0,
            "seconds_per_note": round(self.seconds / max(self.notes, 1), 4),
            "key_event_recall_by_style": {
                style: round(c / max(t, 1), 3) for style, (c, t) in sorted(self.per_style.items())
            },
        }


def unsupported_statements(summary: str, source: str) -> list[str]:
    """Kinds of the summary's statements its source does not support, one entry each."""
    kinds = [f.kind for f in check_faithfulness(summary, source).failures]
    flat = " ".join(source.lower().split())

    def own_words(sentence: str) -> bool:  # the note's words, with or without the heading a line starts with
        return any(" ".join(p.lower().split()) in flat for p in (sentence, sentence.partition(": ")[2]) if p)

    return kinds + ["filler" for s in sentences(summary) if is_filler(s) and not own_words(s)]


def score_method(
    name: str, summarize: Summarize, references: Sequence[Reference], redacted: Mapping[str, str]
) -> MethodScore:
    """Run ``summarize`` on the redacted notes of ``references`` (one call, timed) and score each summary."""
    notes = [redacted[r.id] for r in references]
    began = time.perf_counter()
    summaries = list(summarize(notes))
    score = MethodScore(name, seconds=time.perf_counter() - began)
    for reference, note, summary in zip(references, notes, summaries, strict=True):
        words = SummaryWords(summary)
        covered = sum(words.covers(e) for e in reference.key_events)
        score.events += len(reference.key_events)
        score.events_covered += covered
        style = score.per_style.setdefault(reference.style, [0, 0])
        style[0] += covered
        style[1] += len(reference.key_events)
        score.system_lines += len(reference.systems)
        score.system_covered += sum(words.covers(line, SYSTEM_SHARE) for line in reference.systems.values())
        kinds = unsupported_statements(summary, note)
        score.unsupported.append(len(kinds))
        score.unsupported_kinds.update(kinds)
        score.lengths.append(len(summary))
    return score


def markdown_table(rows: Sequence[Mapping[str, object]]) -> str:
    head = (
        "| method | notes | key-event recall | system lines covered | unsupported per summary "
        "| summaries with any | median chars | s per note |\n|---|---|---|---|---|---|---|---|"
    )
    body = [
        f"| {r['method']} | {r['notes']} | {r['key_event_recall']:.2f} | {r['system_line_coverage']:.2f} "
        f"| {r['unsupported_per_summary']:.2f} | {r['summaries_with_unsupported']} | {r['median_chars']:.0f} "
        f"| {r['seconds_per_note']:.4f} |"
        for r in rows
    ]
    return "\n".join([head, *body])


def verdict(generated: Mapping[str, object], extractive: Mapping[str, object]) -> str:
    """Whether the guarded generator may be published: more key events covered than the extractive summary,
    and no more unsupported statements (the rule of issue 30)."""
    better = float(generated["key_event_recall"]) > float(extractive["key_event_recall"])  # type: ignore[arg-type]
    safe = float(generated["unsupported_per_summary"]) <= float(extractive["unsupported_per_summary"])  # type: ignore[arg-type]
    if better and safe:
        return f"{generated['method']} beats {extractive['method']}: it may be published (PHI_SUMMARIZER_MODEL)"
    return (
        f"{generated['method']} does not beat {extractive['method']} "
        f"(key-event recall {generated['key_event_recall']} vs {extractive['key_event_recall']}, unsupported "
        f"{generated['unsupported_per_summary']} vs {extractive['unsupported_per_summary']}): keep "
        "PHI_SUMMARIZER=extractive"
    )
