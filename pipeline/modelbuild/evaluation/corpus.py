"""Labelled documents for evaluation, whatever file format they came from."""

from __future__ import annotations

from dataclasses import dataclass

from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType


@dataclass(frozen=True, slots=True)
class GoldSpan:
    """A labelled span. ``type`` is None for labels kept aside (not PHI under Safe Harbor, or not scored)."""

    start: int
    end: int
    label: str
    type: PhiType | None


@dataclass(frozen=True, slots=True)
class Document:
    """One text with its gold spans, plus the corpus's labelling conventions.

    ``merge_address``: the corpus labels a whole postal address as one span (street, city and ZIP parts
    predicted next to each other are joined before scoring). ``aliases``: predicted types the corpus does
    not distinguish, mapped onto the one it uses (a corpus with no FAX label calls fax numbers PHONE).
    """

    id: str
    text: str
    spans: tuple[GoldSpan, ...]
    merge_address: bool = False
    aliases: tuple[tuple[PhiType, PhiType], ...] = ()


class CorpusError(PipelineError, ValueError):
    """A corpus file is missing or malformed; the message names the file and the record, never its text."""
