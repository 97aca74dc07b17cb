"""A seeded synthetic corpus of notes with note-level sensitive-category labels.

Each note is built on the detector corpus's own notes (:func:`pipeline.modelbuild.corpus.generate_note`:
thirteen styles, terse all-caps nursing to portal messages), so the classifier sees every category in every
note style: a slice of a background note, the category sentences of :mod:`templates` placed among its
lines (cased like the note), and hard negatives. About a third of the notes belong to no category, an
eighth to two. A background note whose own text could put it in a category (the detector corpus's
abbreviation soup holds 'G5P1' or 'HIV' now and then) is passed over, so labels stay exact.

Splits follow the detector corpus: the held-out split uses held-out templates and held-out background
notes. Same seed, same corpus; note ``i`` is the same whatever the count.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.sensitive import SensitiveCategory
from pipeline.modelbuild.corpus import Split, generate_note
from pipeline.modelbuild.corpus.templates import template_heldout
from pipeline.modelbuild.sensitive.templates import FILLERS, NEGATIVE, POSITIVE, PSYCHOTHERAPY_HEADERS

CATEGORIES: tuple[SensitiveCategory, ...] = tuple(SensitiveCategory)
_CHOICE = re.compile(r"\{([^{}]*)\}")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
#: Words that could put a background note in a category; such a note is not used as background.
_SENSITIVE_WORDS = re.compile(
    r"\b(hiv|aids|std|sti|gc|ct|rpr|vdrl|prep|etoh|ivdu|opioid use|detox|ciwa|cows|suboxone|methadone|"
    r"psych\w*|depress\w*|anxiety|bipolar|schizo\w*|suicid\w*|si/hi|ptsd|pregnan\w*|g\d+ ?p\d+|lmp|ob|"
    r"iud|contracept\w*|abortion|miscarriage|ivf|gestation\w*|postpartum|prenatal|genetic\w*|brca\d?|"
    r"karyotype|mutation|carrier|sequencing|syphilis|chlamydia|gonorrh\w*|herpes|hsv|trich\w*)\b",
    re.IGNORECASE,
)
#: Share of notes with no category, and with two.
NONE_SHARE = 0.34
MIXED_SHARE = 0.13


@dataclass(frozen=True)
class LabelledNote:
    """A note, the categories it belongs to, and where it came from."""

    id: str
    text: str
    categories: frozenset[SensitiveCategory]
    style: str
    split: Split

    def labels(self) -> list[float]:
        """A 0/1 target per category, in :data:`CATEGORIES` order."""
        return [1.0 if c in self.categories else 0.0 for c in CATEGORIES]

    def as_record(self) -> dict[str, object]:
        return {
            "id": self.id,
            "text": self.text,
            "categories": sorted(c.value for c in self.categories),
            "style": self.style,
        }


def family(items: Sequence[str], split: Split) -> list[str]:
    """The templates of a list that belong to ``split`` (each fourth one is held out)."""
    return [t for i, t in enumerate(items) if template_heldout(i) == (split is Split.HELDOUT)]


def expand(template: str, rng: random.Random) -> str:
    """Fill ``{NAME}`` from :data:`FILLERS` and pick one of ``{a|b|c}``."""

    def choose(match: re.Match[str]) -> str:
        body = match.group(1)
        if body in FILLERS:
            return rng.choice(FILLERS[body])
        return rng.choice(body.split("|"))

    return _CHOICE.sub(choose, template)


def _background(seed: int, split: Split, index: int, rng: random.Random) -> tuple[list[str], str, str, str]:
    """Lines of a background note free of sensitive words, its joiner, its case ('upper', 'lower' or ''),
    its style."""
    for attempt in range(50):
        note = generate_note(seed, split, index * 50 + attempt)
        if _SENSITIVE_WORDS.search(note.text):
            continue
        pieces = [p.strip() for p in _SENTENCE.split(note.text) if p and p.strip()]
        if len(pieces) < 2:
            continue
        take = rng.randint(2, min(6, len(pieces)))
        first = rng.randint(0, len(pieces) - take)
        letters = [c for c in note.text if c.isalpha()]
        share = sum(c.isupper() for c in letters) / max(1, len(letters))
        case = "upper" if share > 0.7 else "lower" if share < 0.03 else ""
        joiner = "\n" if "\n" in note.text else " "
        return pieces[first : first + take], joiner, case, note.style
    return ["Seen today."], " ", "", "plain"


def _categories_for(rng: random.Random) -> list[SensitiveCategory]:
    draw = rng.random()
    if draw < NONE_SHARE:
        return []
    count = 2 if draw > 1 - MIXED_SHARE else 1
    return rng.sample(CATEGORIES, count)


def generate_labelled(seed: int, split: Split, index: int) -> LabelledNote:
    """The ``index``-th note of the ``split`` corpus for ``seed``."""
    rng = random.Random(f"sensitive-corpus:{seed}:{split.value}:{index}")
    chosen = _categories_for(rng)
    lines, joiner, case, style = _background(seed, split, index, rng)
    inserted: list[str] = []
    labels = set(chosen)
    header: str | None = None
    for category in chosen:
        templates = family(POSITIVE[category], split)
        count = rng.randint(1, 3) if category is not SensitiveCategory.PSYCHOTHERAPY_NOTES else rng.randint(2, 4)
        inserted += [expand(t, rng) for t in rng.sample(templates, min(count, len(templates)))]
        if category is SensitiveCategory.PSYCHOTHERAPY_NOTES:
            labels.add(SensitiveCategory.MENTAL_HEALTH)  # psychotherapy is mental health care
            if rng.random() < 0.6:
                header = expand(rng.choice(family(PSYCHOTHERAPY_HEADERS, split)), rng)
                if rng.random() < 0.7:
                    lines = lines[:1]  # a session note carries little else
    negatives = family(NEGATIVE, split)
    hard = rng.randint(1, 3) if not chosen else (rng.randint(0, 2) if rng.random() < 0.6 else 0)
    inserted += [expand(t, rng) for t in rng.sample(negatives, hard)]
    if case == "lower" and rng.random() < 0.75:
        inserted = [s.lower() for s in inserted]
    for sentence in inserted:
        lines.insert(rng.randint(0, len(lines)), sentence)
    if header is not None:
        lines.insert(0, header)
    text = joiner.join(lines)
    if case == "upper" and rng.random() < 0.85:
        text = text.upper()
    elif rng.random() < 0.06:
        text = text.lower()
    return LabelledNote(f"sensitive-{split.value}-{seed}-{index}", text, frozenset(labels), style, split)


def generate(count: int, seed: int = 13, split: Split = Split.TRAIN, start: int = 0) -> list[LabelledNote]:
    """``count`` labelled notes of one split, numbered from ``start``."""
    return [generate_labelled(seed, split, index) for index in range(start, start + count)]


def write_jsonl(notes: Iterable[LabelledNote], path: Path) -> int:
    """One ``{"id", "text", "categories", "style"}`` object per line (the evaluation format)."""
    count = 0
    with path.open("w", encoding="utf-8") as handle:
        for note in notes:
            handle.write(json.dumps(note.as_record(), ensure_ascii=False) + "\n")
            count += 1
    return count


def read_jsonl(path: Path) -> list[tuple[str, str, frozenset[SensitiveCategory]]]:
    """(id, text, categories) of each line of a labelled file: the hand-written set or a written split."""
    items = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        record = json.loads(line)
        try:
            categories = frozenset(SensitiveCategory(c) for c in record["categories"])
        except ValueError as exc:
            raise ValueError(f"{path}:{number}: {exc}") from None
        items.append((str(record["id"]), str(record["text"]), categories))
    return items
