"""Word lists from maintained sources, read once: what a token is when it is not a person or a place.

Built by :mod:`pipeline.modelbuild.lexicons` from PyPI packages (Census names, a drug dictionary, a
medical abbreviation glossary, English word frequencies) and shipped as small gzip files, so the worker
needs none of those packages. The ensemble uses them to throw out model spans that are clinical
vocabulary ('Foley', 'PERRLA', 'levo', 'clear') rather than names, and to tell a name-first word
('John') from a word-first name ('Will').
"""

from __future__ import annotations

import gzip
import math
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from pipeline.core.errors import PipelineError

DATA_DIR = Path(__file__).parent / "lexicon_data"
LEXICON_FILES: dict[str, str] = {
    "first_names": "first_names.txt.gz",
    "surnames": "surnames.txt.gz",
    "drugs": "drugs.txt.gz",
    "abbreviations": "abbreviations.txt.gz",
    "common_words": "common_words.txt.gz",
    "medical_words": "medical_words.txt.gz",
}

#: A word this frequent in English (Zipf scale: log10 of uses per billion words) is a word first. Below
#: about 3.5 the list fills with names that are not in the 1990 Census ('Hamid' 3.2, 'Moines' 3.4).
COMMON_ZIPF = 3.6
#: ``log10(name share %) - zipf + 5`` above this: the token is read as a name even though it is a word too
#: ('john' 0.1, 'brown' -0.2, 'mark' -0.5); below it a word ('will' -4.2, 'may' -3.3, 'clear' -3.9).
NAME_DOMINANCE = -1.5


class LexiconMissingError(PipelineError):
    """A shipped word list is missing or unreadable: the install is incomplete."""


@dataclass(frozen=True)
class Lexicons:
    first_names: dict[str, float]
    surnames: dict[str, float]
    drugs: frozenset[str]
    abbreviations: frozenset[str]
    common_words: dict[str, float]
    #: Words of medical language (the abbreviation glossary's expansions and a short supplement).
    medical_words: frozenset[str] = frozenset()
    #: :meth:`is_vocabulary`'s answers by (token, as_written): the lists never change, and a note repeats
    #: its names and words (the typo test behind a name tries some 200 spellings). Per process, in memory
    #: only, emptied when it reaches :data:`_MEMO_LIMIT` entries.
    _vocabulary: dict[tuple[str, bool], bool] = field(default_factory=dict, init=False, compare=False, repr=False)

    def name_share(self, token: str) -> float:
        """Largest Census share (per cent) of ``token`` as a first name or surname."""
        low = token.lower()
        share = max(self.first_names.get(low, 0.0), self.surnames.get(low, 0.0))
        if not share and ("'" in low or "\u2019" in low):
            bare = low.replace("'", "").replace("\u2019", "")  # the Census writes O'Brien as OBRIEN
            share = max(self.first_names.get(bare, 0.0), self.surnames.get(bare, 0.0))
        return share

    def is_name_first(self, token: str) -> bool:
        """A Census name that is not mostly an ordinary word."""
        share = self.name_share(token)
        if share <= 0.0:
            return False
        zipf = self.common_words.get(token.lower(), 0.0)
        return math.log10(share) - zipf + 5 > NAME_DOMINANCE

    def is_clinical(self, token: str) -> bool:
        """A drug name, a medical abbreviation or a word of medical language that is not an everyday word
        ('renal', 'thoracic'; the glossary's 'early' and 'west' stay everyday words)."""
        low = token.lower()
        if low in self.drugs or low in self.abbreviations:
            return True
        if low not in self.medical_words:
            return False
        return not self.is_common_word(low) or (len(low) <= _SHORT_FORM and token.isupper())

    def is_typo(self, token: str) -> bool:
        """A misspelt everyday word that is no name: two letters swapped ('NEICE', 'PRIAMRY'), a letter
        doubled ('betweeen') or one dropped from a longer word ('dauther', 'PRESNT').

        Only typists' slips count: a surname one letter away from a word ('Lavely', 'Marder') is a
        substitution and stays a possible name."""
        low = token.lower()
        if len(low) < _TYPO_MIN or not low.isalpha() or self.name_share(low) > 0.0 or low in self.common_words:
            return False
        return any(
            self.common_words.get(c, 0.0) >= _TYPO_ZIPF and self.name_share(c) == 0.0 for c in _typo_sources(low)
        )

    def is_common_word(self, token: str) -> bool:
        return self.common_words.get(token.lower(), 0.0) >= COMMON_ZIPF

    def is_vocabulary(self, token: str, as_written: bool = False) -> bool:
        """Clinical vocabulary or an everyday word, and not a name first: never a name on its own.

        A token that is both an abbreviation and a name first ('Sara'/'SARA', 'Ed'/'ED') is read as the
        abbreviation when written in capitals; with ``as_written`` a Title-Case spelling reads as the name.
        """
        key = (token, as_written)
        known = self._vocabulary.get(key)
        if known is None:
            if len(self._vocabulary) >= _MEMO_LIMIT:
                self._vocabulary.clear()
            known = self._vocabulary[key] = self._judge_vocabulary(token, as_written)
        return known

    def _judge_vocabulary(self, token: str, as_written: bool) -> bool:
        if len(token) <= 1:
            return True
        if self.is_clinical(token):
            if not self.is_name_first(token):
                return True
            low = token.lower()
            short_form = low in self.abbreviations or (low in self.medical_words and len(low) <= _SHORT_FORM)
            return short_form and not (as_written and token.istitle())
        if self.is_typo(token):
            return True
        if self.is_name_first(token):
            return False
        return self.is_common_word(token) or self._is_inflected_word(token)

    def _is_inflected_word(self, token: str) -> bool:
        """'phoned', 'GLUCOSES', 'suctioning': a common or clinical word with an inflection ending."""
        low = token.lower()
        for ending, restore in _INFLECTIONS:
            if low.endswith(ending) and len(low) - len(ending) >= _STEM_MIN:
                stem = low[: len(low) - len(ending)] + restore
                if self.is_common_word(stem) or stem in self.medical_words or stem in self.abbreviations:
                    return True
        return False


#: The most answers :meth:`Lexicons.is_vocabulary` keeps (a few MB of short strings).
_MEMO_LIMIT = 50_000
#: Medical words this short, in capitals, are abbreviations ('HO', 'SX'), clinical though frequent strings.
_SHORT_FORM = 3
#: Inflection endings and what to put back to find the word ('phoned' -> 'phone', 'suctioning' -> 'suction').
_INFLECTIONS = (("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"), ("d", ""), ("es", ""), ("s", ""))
_STEM_MIN = 4
#: A misspelling is judged only in words this long, against words at least this frequent.
_TYPO_MIN = 5
_TYPO_ZIPF = 3.5


def _typo_sources(low: str) -> set[str]:
    """Words ``low`` is one typist's slip away from: swapped neighbours, a doubled letter, a dropped letter."""
    swapped = {low[:i] + low[i + 1] + low[i] + low[i + 2 :] for i in range(len(low) - 1) if low[i] != low[i + 1]}
    undoubled = {low[:i] + low[i + 1 :] for i in range(1, len(low)) if low[i] == low[i - 1]}
    restored = {low[:i] + c + low[i:] for i in range(1, len(low)) for c in "abcdefghijklmnopqrstuvwxyz"}
    return swapped | undoubled | {w for w in restored if len(w) >= _TYPO_MIN + 2}


def _read(name: str) -> list[str]:
    path = DATA_DIR / LEXICON_FILES[name]
    try:
        # One decompression and one split (start-up cost: half of reading the gzip stream line by line);
        # newlines translated as text mode would, so the lines are the same.
        text = gzip.decompress(path.read_bytes()).decode("utf-8")
    except OSError as exc:
        raise LexiconMissingError(
            f"word list {path} is missing or unreadable ({type(exc).__name__}); reinstall the package or run "
            "'phi-pipeline model lexicons'"
        ) from exc
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [line for line in text.split("\n") if line.strip()]


def _weighted(name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in _read(name):
        word, _, weight = line.partition("\t")
        out[word] = float(weight or 0.0)
    return out


@cache
def lexicons() -> Lexicons:
    """The shipped lists (loaded once per process)."""
    return Lexicons(
        first_names=_weighted("first_names"),
        surnames=_weighted("surnames"),
        drugs=frozenset(_read("drugs")),
        abbreviations=frozenset(_read("abbreviations")),
        common_words=_weighted("common_words"),
        medical_words=frozenset(_read("medical_words")),
    )
