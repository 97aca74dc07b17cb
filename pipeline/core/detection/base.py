"""What every recognizer shares: the text view it reads, context cues, and the pattern-matching loop.

A recognizer has one job: find one family of identifiers and say how sure it is. Scores are in [0, 1];
the ensemble applies per-type thresholds afterwards, so a recognizer may emit weak candidates (a bare
ten-digit number, a month/day pair with no context) and let context or agreement lift them.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Protocol, runtime_checkable

from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span


@runtime_checkable
class TextDetector(Protocol):
    """Anything that finds PHI spans in free text: rules, a model, or an ensemble of both."""

    def detect(self, text: str) -> list[Span]: ...

    def detect_batch(self, texts: Sequence[str]) -> list[list[Span]]: ...


@runtime_checkable
class ModelDetector(TextDetector, Protocol):
    """A model the ensemble runs beside the rules: its name (in span reasons and metrics), the execution
    provider it runs on, and the folder it was loaded from (None when it has none)."""

    name: str
    provider: str
    model_dir: Path | None


@runtime_checkable
class Detector(TextDetector, Protocol):
    """What the worker reads from its detector besides spans: a name, the models it runs (none for the
    rules alone) and the seconds each model spent on the last batch (for the inference-latency metric)."""

    name: str
    models: Sequence[ModelDetector]
    last_model_seconds: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Doc:
    """The text once, plus its lower-cased copy, so each recognizer does not lower-case it again.

    ``str.lower`` can change length for a few characters (e.g. 'İ'); ``lower`` is then a same-length
    ASCII-only lowering so offsets stay valid in both.
    """

    text: str
    lower: str
    #: What one scan of this note found for several recognizers at once, by the object that scanned
    #: (:class:`~pipeline.core.detection.recognizers.labeled.CueScan`); a note's Doc is not shared
    #: between threads.
    shared: dict[object, tuple[int, ...]] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, text: str) -> Doc:
        lowered = text.lower()
        if len(lowered) != len(text):
            lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
        return cls(text, lowered)


_ASCII_LOWER = bytes(range(ord("a"), ord("z") + 1))
_ASCII_UPPER = bytes(range(ord("A"), ord("Z") + 1))


@lru_cache(maxsize=64)
def case_counts(text: str) -> tuple[int, int, int]:
    """Letters, lower-case letters and capitals in ``text`` (``str.isalpha``, ``islower``, ``isupper``), counted
    once per text for the recognizers that judge a note by its case; ASCII text is counted in C."""
    if text.isascii():
        raw = text.encode("ascii")
        lowers = len(raw) - len(raw.translate(None, _ASCII_LOWER))
        uppers = len(raw) - len(raw.translate(None, _ASCII_UPPER))
        return lowers + uppers, lowers, uppers
    return sum(c.isalpha() for c in text), sum(c.islower() for c in text), sum(c.isupper() for c in text)


def words_not_after(words: Iterable[str], not_after: str = r"\w") -> str:
    """A regex for any of ``words`` (literal text) where the character before is not ``not_after`` (a one-
    character class): '(?<!\\w)(?:Drs|Dr|...)' with the look-behind after each word's first character, so the
    regex engine can skip to a possible first character (see :class:`Pattern`). Words sharing a first
    character keep their order, so the same alternative wins."""
    rests: dict[str, list[str]] = {}
    for word in words:
        rests.setdefault(word[0], []).append(re.escape(word[1:]))
    return (
        "(?:"
        + "|".join(rf"{re.escape(c)}(?<!{not_after}{re.escape(c)})(?:{'|'.join(r)})" for c, r in rests.items())
        + ")"
    )


def _syntax(pattern: str) -> Iterator[tuple[int, str, int]]:
    """Each character of ``pattern`` that is regex syntax, not escaped or inside a character class, as
    (index, character, group depth before it)."""
    depth, index = 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if char == "[":  # skip the class; a ']' first in it (after an optional '^') is a literal
            index = pattern.index("]", index + (3 if pattern[index + 1 : index + 3] == "^]" else 2))
        else:
            yield index, char, depth
            depth += (char == "(") - (char == ")")
        index += 1


def _top_level(pattern: str) -> list[str]:
    """``pattern`` split at its top-level '|' (not inside a group or a character class, not escaped)."""
    cuts = [index for index, char, depth in _syntax(pattern) if char == "|" and depth == 0]
    return [pattern[a + 1 : b] for a, b in zip([-1, *cuts], [*cuts, len(pattern)], strict=True)]


def _group_end(pattern: str) -> int:
    """The index just past the group that opens ``pattern`` ('(?:a|b)tail' -> 7)."""
    return next(index + 1 for index, char, depth in _syntax(pattern) if char == ")" and depth == 1)


_QUANTIFIERS = frozenset("?*+{")


def by_first_letter(alternatives: Iterable[str]) -> str:
    """An alternation that matches where one of ``alternatives`` (regexes) matches, for a zero-width scan
    of where any can start: alternatives that open with a plain lower-case letter (after a leading '\\b'
    and a leading '(?:a|b)' spread over its branches) are grouped by that letter, so the regex engine
    tries one branch per letter at each place instead of every alternative. The '\\b' becomes a
    look-behind after the letter (the same test there)."""
    groups: dict[tuple[str, bool], list[str]] = {}
    others: list[str] = []
    pending = [part for alternative in alternatives for part in _top_level(alternative)]
    while pending:
        part = pending.pop(0)
        boundary = part.startswith("\\b")
        body = part[2:] if boundary else part
        end = _group_end(body) if body.startswith("(?:") else 0
        if end and body[end : end + 1] not in _QUANTIFIERS:
            lead = "\\b" if boundary else ""
            pending[:0] = [lead + branch + body[end:] for branch in _top_level(body[3 : end - 1])]
            continue
        if "a" <= body[:1] <= "z" and body[1:2] not in _QUANTIFIERS:
            groups.setdefault((body[0], boundary), []).append(f"(?:{body[1:]})")
        else:
            others.append(f"(?:{part})")
    return "|".join(
        [
            letter + (rf"(?<!\w{letter})" if boundary else "") + f"(?:{'|'.join(rests)})"
            for (letter, boundary), rests in groups.items()
        ]
        + others
    )


def case_blind_matches(doc: Doc, regex: re.Pattern[str], lowered: re.Pattern[str] | None) -> Iterator[re.Match[str]]:
    """``regex.finditer(doc.text)`` for a case-insensitive ``regex``; for an ASCII note, with ``lowered`` (its
    case-sensitive twin), ``lowered`` over the lower-cased copy instead: a case-insensitive match in ASCII
    text is a case-sensitive one in its lowered copy, at the same offsets, and the scan costs half or less."""
    if lowered is not None and doc.text.isascii():
        return lowered.finditer(doc.lower)
    return regex.finditer(doc.text)


def matches_at(regex: re.Pattern[str], text: str, starts: Sequence[int]) -> Iterator[re.Match[str]]:
    """``regex.finditer(text)`` for a regex whose matches are never empty, trying it only at ``starts``
    (ascending, and holding every place where a match can start, as a cheaper scan found them)."""
    end = 0
    for start in starts:
        if start < end:
            continue
        match = regex.match(text, start)
        if match is not None:
            yield match
            end = max(match.end(), start + 1)


class Cue:
    """A set of context words looked for within a window before (and optionally after) a match.

    Returns the cue word found, which comes from this fixed list and so is safe to put in reasons.
    """

    __slots__ = ("_re", "after", "before", "label")

    def __init__(self, label: str, words: Iterable[str], *, before: int = 40, after: int = 0) -> None:
        alternatives = "|".join(re.escape(w.lower()) for w in sorted(set(words), key=len, reverse=True))
        self._re = re.compile(rf"(?<![a-z0-9])(?:{alternatives})(?![a-z0-9])")
        self.label = label
        self.before = before
        self.after = after

    def nearest_before(self, doc: Doc, start: int) -> tuple[int, str] | None:
        """Distance and word of the closest cue ending at or before ``start`` within the window."""
        best: re.Match[str] | None = None
        for match in self._re.finditer(doc.lower, max(0, start - self.before), start):
            best = match
        if best is None:
            return None
        return start - best.end(), best.group(0)

    def found(self, doc: Doc, start: int, end: int) -> str | None:
        """The cue word if one is near the span, else None."""
        hit = self.nearest_before(doc, start)
        if hit is not None:
            return hit[1]
        if self.after:
            match = self._re.search(doc.lower, end, min(len(doc.lower), end + self.after))
            if match:
                return match.group(0)
        return None


class Recognizer(ABC):
    """Finds one family of identifiers. Subclasses set ``name`` and implement :meth:`find`."""

    name: str = "recognizer"

    @abstractmethod
    def find(self, doc: Doc) -> Iterator[Span]:
        """Yield candidate spans with scores; never raise on odd input text."""

    def span(self, start: int, end: int, phi_type: PhiType, score: float, reasons: Sequence[str]) -> Span | None:
        """A span tagged with this recognizer, its score clamped to [0, 1]; None when it would be empty."""
        if end <= start:
            return None
        clamped = round(min(1.0, max(0.0, score)), 4)
        return Span(start, end, phi_type, clamped, f"rules:{self.name}", tuple(reasons))


@dataclass(frozen=True, slots=True)
class Gate:
    """A cheap test that every match of a pattern passes, run before the pattern so that a note where it
    fails is skipped: a regex finding a part each match holds, with no look-behind in front to slow the scan.

    With ``lowered`` the regex is searched in the lower-cased copy, standing in for a case-insensitive
    part: a case-insensitive match in ASCII text is a case-sensitive one in its lower-cased copy, so a
    non-ASCII text always passes (Unicode case folding matches more than lower-casing shows). ``words``
    instead of a regex: lower-case strings one of which each match holds, case-insensitively (a plain
    substring test per word, faster than a long alternation).
    """

    regex: re.Pattern[str] | None = None
    lowered: bool = False
    words: tuple[str, ...] = ()

    def passes(self, doc: Doc) -> bool:
        if self.regex is None:
            return not doc.text.isascii() or any(word in doc.lower for word in self.words)
        if self.lowered:
            return not doc.text.isascii() or self.regex.search(doc.lower) is not None
        return self.regex.search(doc.text) is not None


@dataclass(frozen=True, slots=True)
class Pattern:
    """One regular expression, the score a bare match earns, and the group holding the value.

    A look-behind that guards a match's start is best written after the pattern's first character
    (``\\d(?<![\\w-]\\d)``, not ``(?<![\\w-])\\d``): the same matches, but a pattern that opens with a
    character class lets the regex engine skip to the next candidate character instead of trying the
    look-behind at every position (two to three times faster on notes).
    """

    name: str
    regex: re.Pattern[str]
    score: float
    group: int | str = 0
    #: Skips a note where no match can be (see :class:`Gate`).
    gate: Gate | None = None
    #: ``regex`` for the lower-cased copy of an ASCII note, case-sensitive, finding the same matches (a
    #: case-insensitive match in ASCII text is a case-sensitive one in its lower-cased copy); faster where
    #: ``regex`` is case-insensitive.
    lowered: re.Pattern[str] | None = None


#: A validator returns None to reject the value, or a reason (checksum passed, structure valid) and a
#: score delta (positive for a passed checksum, negative for a merely plausible shape).
Validator = Callable[[str], tuple[str, float] | None]


class PatternRecognizer(Recognizer):
    """Regexes, an optional validator, and context cues that raise (or, when negative, lower) the score."""

    def __init__(
        self,
        name: str,
        phi_type: PhiType,
        patterns: Sequence[Pattern],
        *,
        validator: Validator | None = None,
        context: Cue | None = None,
        context_boost: float = 0.3,
        negative: Cue | None = None,
        negative_factor: float = 0.4,
    ) -> None:
        self.name = name
        self.phi_type = phi_type
        self.patterns = tuple(patterns)
        self.validator = validator
        self.context = context
        self.context_boost = context_boost
        self.negative = negative
        self.negative_factor = negative_factor

    def find(self, doc: Doc) -> Iterator[Span]:
        for pattern in self.patterns:
            if pattern.gate is not None and not pattern.gate.passes(doc):
                continue
            for match in case_blind_matches(doc, pattern.regex, pattern.lowered):
                start, end = match.span(pattern.group)
                if start < 0 or end <= start:
                    continue
                span = self.score_match(doc, start, end, pattern)
                if span is not None:
                    yield span

    def score_match(self, doc: Doc, start: int, end: int, pattern: Pattern) -> Span | None:
        """Apply validation and context to one match; None when it is rejected."""
        reasons = [f"pattern:{pattern.name}"]
        score = pattern.score
        if self.validator is not None:
            verdict = self.validator(doc.text[start:end])
            if verdict is None:
                return None
            reason, delta = verdict
            reasons.append(reason)
            score += delta
        score = self.apply_context(doc, start, end, score, reasons)
        return self.span(start, end, self.phi_type, score, reasons)

    def apply_context(self, doc: Doc, start: int, end: int, score: float, reasons: list[str]) -> float:
        """Raise the score for a positive cue near the span and lower it for a negative one."""
        if self.context is not None:
            word = self.context.found(doc, start, end)
            if word is not None:
                reasons.append(f"context:{word}")
                score += self.context_boost
        if self.negative is not None:
            word = self.negative.found(doc, start, end)
            if word is not None:
                reasons.append(f"negative:{word}")
                score *= self.negative_factor
        return score
