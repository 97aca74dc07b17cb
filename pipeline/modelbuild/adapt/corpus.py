"""A site's labelled notes: ``{"id", "text", "spans": [{"start", "end", "type"}]}`` per line, labels mapped.

The type map turns the site's labels into our PHI types, or sets a label aside (``null``: not PHI under
Safe Harbor, not taught and not scored, such as a year on its own). It starts from every label
:func:`pipeline.core.detection.labels.map_label` knows (our own type names, i2b2, Presidio, PhysioNet
``deid`` and common model labels); a site adds or
overrides labels with a JSON file ``{"LABEL": "PHI_TYPE" | null}``. A label in none of them stops the
run with its name and line, so nothing is silently dropped.

Notes are grouped by patient for every split: the part of the id before the first ``-`` when ids look
like ``PATIENT-NOTE`` (the PhysioNet convention), else each note is its own group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from pipeline.core.detection.labels import map_label
from pipeline.core.phi_types import PhiType, UnknownPhiTypeError
from pipeline.modelbuild.corpus import CorpusSpan
from pipeline.modelbuild.evaluation.corpus import CorpusError, Document, GoldSpan


class TypeMap:
    """Site label -> PHI type (or None, set aside): the site's own entries, then :func:`map_label`. Keys
    compare case-insensitively."""

    def __init__(self, overrides: Mapping[str, PhiType | None] | None = None) -> None:
        self._table = {k.upper(): v for k, v in (overrides or {}).items()}

    def __call__(self, label: str) -> PhiType | None:
        key = label.strip().upper()
        if key in self._table:
            return self._table[key]
        try:
            return map_label(label)
        except UnknownPhiTypeError:
            raise UnknownPhiTypeError(
                f"label {label.strip()!r} is not a PHI type nor a known label; map it in a --type-map file "
                '({"LABEL": "NAME"}, or null to set it aside)'
            ) from None

    @classmethod
    def from_file(cls, path: Path | None) -> TypeMap:
        """The default map, with ``path``'s entries (a JSON object label -> PHI type name or null) on top."""
        if path is None:
            return cls()
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise CorpusError(f"type map {path}: cannot be read as JSON ({type(exc).__name__})") from None
        if not isinstance(raw, dict):
            raise CorpusError(f"type map {path}: expected a JSON object {{label: PHI type or null}}")
        table: dict[str, PhiType | None] = {}
        for label, value in raw.items():
            if value is None:
                table[str(label)] = None
                continue
            try:
                table[str(label)] = PhiType(str(value).strip().upper())
            except ValueError:
                choices = ", ".join(t.value for t in PhiType)
                raise CorpusError(f"type map {path}: {label!r} -> {value!r} is not a PHI type ({choices})") from None
        return cls(table)


@dataclass(frozen=True, slots=True)
class SiteNote:
    """One labelled note of the site; ``group`` is its patient (see :func:`group_of`)."""

    id: str
    text: str
    gold: tuple[GoldSpan, ...]
    group: str

    @property
    def spans(self) -> tuple[CorpusSpan, ...]:
        """The PHI spans to teach (set-aside labels are left as ordinary text, as in the synthetic corpus)."""
        return tuple(CorpusSpan(g.start, g.end, g.type) for g in self.gold if g.type is not None)

    def document(self) -> Document:
        return Document(self.id, self.text, self.gold)


def group_of(note_id: str) -> str:
    """The patient of a ``PATIENT-NOTE`` id; an id without ``-`` is a group of its own."""
    head, sep, tail = note_id.partition("-")
    return head if sep and head and tail else note_id


def read_site_corpus(path: Path, type_map: TypeMap | None = None) -> list[SiteNote]:
    """Every note of ``path``; a malformed line raises :class:`CorpusError` naming the line, never its text."""
    mapping = type_map or TypeMap()
    if not path.is_file():
        raise CorpusError(f"{path}: no such file (expected JSONL with id, text and spans)")
    notes: list[SiteNote] = []
    seen: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                note = _parse(line, f"{path.name} line {number}", mapping)
                if note.id in seen:
                    raise CorpusError(f"{path.name} line {number}: note id is used twice; ids must be unique")
                seen.add(note.id)
                notes.append(note)
    if not notes:
        raise CorpusError(f"{path}: no notes")
    return notes


def _parse(line: str, where: str, mapping: TypeMap) -> SiteNote:
    try:
        record = json.loads(line)
        note_id, text = str(record["id"]), record["text"]
        if not isinstance(text, str):
            raise TypeError
        gold = []
        for raw in record.get("spans", []):
            start, end, label = int(raw["start"]), int(raw["end"]), str(raw["type"])
            if not 0 <= start < end <= len(text):
                raise CorpusError(f"{where}: span [{start}, {end}) is outside a text of {len(text)} characters")
            try:
                phi_type = mapping(label)
            except UnknownPhiTypeError as exc:
                raise CorpusError(f"{where}: {exc}") from None
            gold.append(GoldSpan(start, end, label, phi_type))
    except CorpusError:
        raise
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise CorpusError(
            f"{where}: expected {{id, text, spans:[{{start,end,type}}]}} ({type(exc).__name__})"
        ) from None
    return SiteNote(note_id, text, tuple(sorted(gold, key=lambda g: (g.start, g.end))), group_of(note_id))


def documents(notes: Sequence[SiteNote]) -> list[Document]:
    return [n.document() for n in notes]
