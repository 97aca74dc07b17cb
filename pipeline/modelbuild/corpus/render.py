"""Turning a template into text with exact gold spans: slot filling, casing and typos.

Text is built piece by piece and every PHI piece records its offsets as it is appended, so gold spans
can never drift from the text. Casing and typos are applied per piece before appending (upper-casing a
whole note afterwards could change lengths for some letters), and typos only ever touch words that
are not PHI, so a gold value is always exactly what the label says.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType
from pipeline.modelbuild.corpus.lexicon import Lexicon
from pipeline.modelbuild.corpus.negatives import NEG_MAKERS
from pipeline.modelbuild.corpus.values import PHI_MAKERS, Seg

_SLOT = re.compile(r"\{([A-Za-z]+)\}")
_WORD = re.compile(r"[A-Za-z]{4,}")


class UnknownSlotError(PipelineError, KeyError):
    """A template names a slot that is neither a PHI maker nor a hard-negative maker."""

    reason = "corpus-unknown-slot"


@dataclass(frozen=True, slots=True)
class CorpusSpan:
    """A gold PHI span: character offsets (end exclusive) and type."""

    start: int
    end: int
    type: PhiType


@dataclass
class NoteWriter:
    """Accumulates text and spans for one note. ``case`` is 'upper', 'lower' or '' (as written)."""

    rng: random.Random
    lex: Lexicon
    case: str = ""
    typos: bool = False
    shout_names: bool = False
    parts: list[str] = field(default_factory=list)
    spans: list[CorpusSpan] = field(default_factory=list)
    length: int = 0

    def _cased(self, text: str, phi: PhiType | None) -> str:
        if self.case == "upper" or (phi is PhiType.NAME and self.shout_names):
            return text.upper()
        if self.case == "lower":
            return text.lower()
        return text

    def append(self, text: str, phi: PhiType | None = None) -> None:
        """Add one piece; typed pieces become gold spans, untyped ones may get typos."""
        if not text:
            return
        if phi is None and self.typos:
            text = _WORD.sub(lambda m: typo(self.rng, m.group(0)), text)
        text = self._cased(text, phi)
        if phi is not None:
            self.spans.append(CorpusSpan(self.length, self.length + len(text), phi))
        self.parts.append(text)
        self.length += len(text)

    def fill(self, template: str) -> None:
        """Append ``template`` with every slot filled by its maker."""
        position = 0
        for match in _SLOT.finditer(template):
            self.append(template[position : match.start()])
            for text, phi in self.slot(match.group(1)):
                self.append(text, phi)
            position = match.end()
        self.append(template[position:])

    def slot(self, name: str) -> list[Seg]:
        if name in PHI_MAKERS:
            return PHI_MAKERS[name](self.rng, self.lex)
        if name in NEG_MAKERS:
            return [(NEG_MAKERS[name](self.rng), None)]
        raise UnknownSlotError(f"template slot {{{name}}} has no maker")

    @property
    def text(self) -> str:
        return "".join(self.parts)


def typo(rng: random.Random, word: str) -> str:
    """Patient-portal typos: about one word in twelve gets a swapped, dropped or doubled letter."""
    if rng.random() >= 0.08:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def slots_of(template: str) -> list[str]:
    """Slot names used by a template (for validation and tests)."""
    return _SLOT.findall(template)
