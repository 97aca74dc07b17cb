"""Generating notes: style choice, template choice within the split's family, assembly, and export.

Each note is seeded from ``(seed, split, index)`` on its own, so note 17 of a corpus is the same whether
100 or 10,000 notes are generated, and the two splits never share a random stream.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.modelbuild.corpus.lexicon import Lexicon, Split
from pipeline.modelbuild.corpus.progress_notes import PROGRESS_STYLES
from pipeline.modelbuild.corpus.render import CorpusSpan, NoteWriter
from pipeline.modelbuild.corpus.templates import STYLES, Case, Style, template_heldout
from pipeline.modelbuild.evaluation.corpus import Document, GoldSpan

#: Relative frequency of each style; terse nursing and ICU notes weigh most because that is where a
#: model's precision breaks down.
STYLE_WEIGHTS: dict[str, float] = {
    "nursing": 0.17,
    "icu": 0.11,
    "discharge": 0.13,
    "radiology": 0.08,
    "pathology": 0.05,
    "referral": 0.1,
    "medlist": 0.06,
    "telephone": 0.1,
    "portal": 0.11,
    "admin": 0.09,
    "icu_progress": 0.24,
    "ward_progress": 0.13,
    "physician_progress": 0.1,
}

#: Every style the generator writes: the template styles and the progress notes written like real ones.
ALL_STYLES: tuple[Style, ...] = STYLES + PROGRESS_STYLES


@dataclass(frozen=True)
class Note:
    """One generated note with its gold spans and where it came from (style and template ids)."""

    id: str
    text: str
    spans: tuple[CorpusSpan, ...]
    style: str
    split: Split
    templates: tuple[str, ...]


def family(style: Style, section: str, split: Split) -> list[tuple[str, str]]:
    """(template id, template) pairs of one section of a style that belong to ``split``."""
    items: tuple[str, ...] = getattr(style, section)
    return [
        (f"{style.name}:{section}:{i}", t)
        for i, t in enumerate(items)
        if template_heldout(i) == (split is Split.HELDOUT)
    ]


def _case_for(style: Style, rng: random.Random) -> str:
    if style.case is Case.UPPER:
        return "upper" if rng.random() < 0.92 else ""
    if style.case is Case.LOWER:
        return "lower" if rng.random() < 0.85 else ("upper" if rng.random() < 0.5 else "")
    if style.case is Case.MIXED:
        return "upper" if rng.random() < 0.5 else ""
    if style.typos and rng.random() < 0.25:
        return "lower"
    return "upper" if rng.random() < 0.08 else ""


def generate_note(seed: int, split: Split, index: int) -> Note:
    """The ``index``-th note of the ``split`` corpus for ``seed``."""
    rng = random.Random(f"phi-corpus:{seed}:{split.value}:{index}")
    names = [s.name for s in ALL_STYLES]
    style = ALL_STYLES[names.index(rng.choices(names, weights=[STYLE_WEIGHTS[n] for n in names])[0])]
    writer = NoteWriter(
        rng=rng,
        lex=Lexicon.for_split(split),
        case=_case_for(style, rng),
        typos=style.typos,
        shout_names=rng.random() < 0.15,
    )
    used: list[str] = []
    header_id, header = rng.choice(family(style, "headers", split))
    writer.fill(header)
    used.append(header_id)
    body = family(style, "body", split)
    count = rng.randint(*style.sentences)
    for position in range(count):
        template_id, template = rng.choice(body)
        writer.append("\n" if header.endswith("\n") and position == 0 else style.joiner)
        writer.fill(template)
        used.append(template_id)
    footers = family(style, "footers", split)
    if footers and rng.random() < 0.6:
        footer_id, footer = rng.choice(footers)
        writer.append("\n")
        writer.fill(footer)
        used.append(footer_id)
    return Note(
        id=f"{split.value}-{seed}-{index}",
        text=writer.text,
        spans=tuple(writer.spans),
        style=style.name,
        split=split,
        templates=tuple(used),
    )


def generate(count: int, seed: int = 13, split: Split = Split.TRAIN, start: int = 0) -> list[Note]:
    """``count`` notes of one split, numbered from ``start``."""
    return [generate_note(seed, split, index) for index in range(start, start + count)]


def as_documents(notes: Sequence[Note]) -> list[Document]:
    """The notes as evaluation documents, so :func:`pipeline.modelbuild.evaluation.score_corpus` scores them."""
    return [
        Document(note.id, note.text, tuple(GoldSpan(s.start, s.end, s.type.value, s.type) for s in note.spans))
        for note in notes
    ]


def jsonl_lines(notes: Iterable[Note]) -> Iterator[str]:
    """Each note as one line of the evaluation's JSONL span format, newline included."""
    for note in notes:
        record = {
            "id": note.id,
            "text": note.text,
            "spans": [{"start": s.start, "end": s.end, "type": s.type.value} for s in note.spans],
            "style": note.style,
        }
        yield json.dumps(record, ensure_ascii=False) + "\n"


def write_jsonl(notes: Iterable[Note], path: Path) -> int:
    """Write notes in the evaluation's JSONL span format (``phi-pipeline eval --format jsonl``)."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for line in jsonl_lines(notes):
            handle.write(line)
            count += 1
    return count
