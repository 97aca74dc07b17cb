"""Readers for the labelled formats the evaluation accepts: JSONL spans, BRAT, i2b2 XML, presidio-research.

Each returns a list of :class:`Document` with labels translated into PhiType (or set aside) through
:mod:`pipeline.core.detection.labels`, so scoring never sees an outside label.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path

from pipeline.core.detection.labels import map_label
from pipeline.core.detection.regions import is_state_or_larger
from pipeline.core.phi_types import PhiType, UnknownPhiTypeError
from pipeline.modelbuild.evaluation.corpus import CorpusError, Document, GoldSpan

FORMATS = ("jsonl", "brat", "i2b2", "presidio")


def _gold(start: int, end: int, label: str, where: str) -> GoldSpan:
    try:
        phi_type = map_label(label)
    except UnknownPhiTypeError as exc:
        raise CorpusError(f"{where}: {exc}") from None
    return GoldSpan(start, end, label, phi_type)


def _check_offsets(span: GoldSpan, text: str, where: str) -> None:
    if not 0 <= span.start < span.end <= len(text):
        raise CorpusError(f"{where}: span [{span.start}, {span.end}) is outside a text of {len(text)} characters")


def load_jsonl(path: Path) -> list[Document]:
    """``{"id", "text", "spans": [{"start", "end", "type"}]}`` per line; ``type`` ours or a known label."""
    docs: list[Document] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path.name} line {number}"
            try:
                record = json.loads(line)
                text = record["text"]
                spans = []
                for raw in record.get("spans", []):
                    span = _gold(int(raw["start"]), int(raw["end"]), str(raw["type"]), where)
                    _check_offsets(span, text, where)
                    spans.append(span)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                if isinstance(exc, CorpusError):
                    raise
                raise CorpusError(
                    f"{where}: expected {{id, text, spans:[{{start,end,type}}]}} ({type(exc).__name__})"
                ) from None
            docs.append(Document(str(record.get("id", number)), text, tuple(spans)))
    return docs


_ANN_LINE = re.compile(r"^T\d+\t(?P<label>\S+) (?P<ranges>\d+ \d+(?:;\d+ \d+)*)\t")


def load_brat(path: Path) -> list[Document]:
    """A folder of ``name.txt`` + ``name.ann`` pairs (or one such pair); discontinuous ranges become spans."""
    texts = sorted(path.glob("*.txt")) if path.is_dir() else [path.with_suffix(".txt")]
    if not texts:
        raise CorpusError(f"{path}: no .txt files found for BRAT standoff")
    docs: list[Document] = []
    for text_path in texts:
        ann_path = text_path.with_suffix(".ann")
        if not ann_path.exists():
            raise CorpusError(f"{text_path.name}: the matching .ann file is missing")
        text = text_path.read_text(encoding="utf-8")
        spans: list[GoldSpan] = []
        for number, line in enumerate(ann_path.read_text(encoding="utf-8").splitlines(), start=1):
            match = _ANN_LINE.match(line)
            if not match:
                continue  # relations, notes and attributes carry no spans
            where = f"{ann_path.name} line {number}"
            for part in match.group("ranges").split(";"):
                start, end = (int(v) for v in part.split())
                span = _gold(start, end, match.group("label"), where)
                _check_offsets(span, text, where)
                spans.append(span)
        docs.append(Document(text_path.stem, text, tuple(spans)))
    return docs


def load_i2b2(path: Path) -> list[Document]:
    """i2b2-2014-style XML: ``<TEXT>`` (CDATA) and ``<TAGS>`` children with ``start``, ``end``, ``TYPE``."""
    files = sorted(path.glob("*.xml")) if path.is_dir() else [path]
    if not files:
        raise CorpusError(f"{path}: no .xml files found")
    docs: list[Document] = []
    for file in files:
        try:
            root = ET.parse(file).getroot()  # noqa: S314 - local corpus files, no external entities resolved
        except ET.ParseError as exc:
            raise CorpusError(f"{file.name}: not well-formed XML ({exc.position})") from None
        text_node = root.find("TEXT")
        if text_node is None or text_node.text is None:
            raise CorpusError(f"{file.name}: no <TEXT> element")
        text = text_node.text
        spans: list[GoldSpan] = []
        tags = root.find("TAGS")
        for tag in [] if tags is None else list(tags):
            where = f"{file.name} tag {tag.get('id', '?')}"
            try:
                start, end = int(tag.get("start", "")), int(tag.get("end", ""))
            except ValueError:
                raise CorpusError(f"{where}: start/end must be integers") from None
            span = _gold(start, end, tag.get("TYPE") or tag.tag, where)
            _check_offsets(span, text, where)
            spans.append(span)
        docs.append(Document(file.stem, text, tuple(spans)))
    return docs


_WEEKDAY_OR_YEAR = re.compile(
    r"^\s*(?:(?:mon|tues|wednes|thurs|fri|satur|sun)day|\d{4}|(?:last|next|this)\s+\w+|today|yesterday|tomorrow)\s*$",
    re.IGNORECASE,
)


#: The set has no FAX or LOCATION label: its phone numbers and its GPE (towns) take those predictions,
#: for every detector scored on it (Presidio's analyzer calls every GPE a LOCATION).
_PRESIDIO_ALIASES = ((PhiType.FAX, PhiType.PHONE), (PhiType.LOCATION, PhiType.CITY))


def load_presidio(path: Path) -> list[Document]:
    """presidio-research JSON (``full_text`` + ``spans`` with ``entity_type``/``start_position``/...).

    Safe Harbor refinements: ages under 90, dates that are only a year or a weekday, and GPE values that
    are a country, state or province (or the generator's 'nan' placeholder) are set aside (they are not
    identifiers); ORGANIZATION, CREDIT_CARD, TITLE and NRP are set aside by the label map.
    The set labels whole postal addresses as one span, which the scorer is told via ``merge_address``.
    """
    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CorpusError(f"{path.name}: not valid JSON (line {exc.lineno})") from None
    if not isinstance(records, list):
        raise CorpusError(f"{path.name}: expected a JSON list of records")
    docs: list[Document] = []
    for index, record in enumerate(records):
        where = f"{path.name} record {index}"
        try:
            text = record["full_text"]
            spans = [_presidio_span(raw, text, where) for raw in record["spans"]]
        except (KeyError, TypeError) as exc:
            raise CorpusError(f"{where}: missing field {exc}") from None
        docs.append(Document(str(index), text, tuple(spans), merge_address=True, aliases=_PRESIDIO_ALIASES))
    return docs


def _presidio_span(raw: dict, text: str, where: str) -> GoldSpan:
    start, end, label = int(raw["start_position"]), int(raw["end_position"]), str(raw["entity_type"])
    span = _gold(start, end, label, where)
    _check_offsets(span, text, where)
    value = text[start:end]
    if label == "AGE":
        digits = "".join(c for c in value if c.isdigit())
        if not digits or int(digits) < 90:
            return GoldSpan(start, end, "AGE_UNDER_90", None)
    if label == "DATE_TIME" and _WEEKDAY_OR_YEAR.match(value):
        return GoldSpan(start, end, "DATE_YEAR_OR_WEEKDAY", None)
    if label == "GPE" and (is_state_or_larger(value) or value.strip().casefold() == "nan"):
        return GoldSpan(start, end, "GPE_STATE_OR_COUNTRY", None)
    return span


_LOADERS: dict[str, Callable[[Path], list[Document]]] = {
    "jsonl": load_jsonl,
    "brat": load_brat,
    "i2b2": load_i2b2,
    "presidio": load_presidio,
}


def load_corpus(path: Path, fmt: str) -> list[Document]:
    """Dispatch on ``fmt`` (one of :data:`FORMATS`); raises :class:`CorpusError` for a bad path or format."""
    if fmt not in _LOADERS:
        raise CorpusError(f"unknown corpus format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if not path.exists():
        raise CorpusError(f"{path}: no such file or folder")
    return _LOADERS[fmt](path)


def iter_texts(docs: list[Document]) -> Iterator[str]:
    """The texts alone, in order (what a detector sees)."""
    return (doc.text for doc in docs)
