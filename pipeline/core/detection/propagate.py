"""A name or place found once in a note is found everywhere in it, and found whole.

Notes name the same clinician, relative or hospital several times, and only some mentions carry a cue
('sent to GH' ... 'GH attorneys'; 'per BEA TURA' ... 'TURA AWARE'). After the merge, every other mention
of a confidently found name or place is added with the same type, as deid-style tools do. Only values that
cannot be an ordinary word travel: a surname or a ward name that is no everyday or clinical word, or a
place's initials in capitals.

Found whole: a place runs on over the words that end place names ('Franklin' + 'Square', 'Baltimore' +
'Rehab') and back over 'St.' or 'Mount'; a name over a hyphenated second surname ('Hanley' + '-McCue');
and a list of relatives' first names goes on after the first one found ('Patsy, Irma and Lou').
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Sequence

from pipeline.core.detection.lexicons import lexicons
from pipeline.core.detection.recognizers.names import STOPWORDS
from pipeline.core.detection.recognizers.places import PLACE_NAME_ENDINGS
from pipeline.core.detection.vetting import writes_capitals
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

_TRAVELLING_TYPES = frozenset({PhiType.NAME, PhiType.FACILITY, PhiType.LOCATION, PhiType.CITY})
_MIN_SCORE = 0.6
_MIN_NAME = 3
_INITIALS = re.compile(r"[A-Z]{2,4}")
_TOKEN = re.compile(r"[^\W\d_][^\W\d_'\u2019-]*")


def _travels(token: str, span_text: str, phi_type: PhiType) -> bool:
    lex = lexicons()
    if phi_type is not PhiType.NAME and _INITIALS.fullmatch(token):
        # A hospital's initials, found alone and vetted there ('GH'), not a word of a longer name ('THE').
        return span_text.strip() == token and token not in STOPWORDS and not lex.is_common_word(token)
    if len(token) < _MIN_NAME or lex.is_vocabulary(token, as_written=True) or lex.is_clinical(token):
        return False
    # A Census name, or a word no list knows ('QUARTERMAIN', 'TURA'); not a rarer English word ('AGITATION').
    return lex.is_name_first(token) or token.lower() not in lex.common_words


#: A run of letters that starts a word: not after a letter, digit, underscore, apostrophe or hyphen.
_WORD = re.compile(r"(?<![\w'\u2019-])[^\W\d_]+")


def _mentions(values: Collection[str], text: str) -> Iterator[re.Match[str]]:
    """Each mention of a value in ``text`` (case-insensitive): a whole run of letters that starts a word.

    Values are runs of letters (:data:`_TOKEN`), so a mention is always a whole run of :data:`_WORD`, and
    in ASCII text a run is one when its case-fold is a value: one scan with a fixed expression and a set
    lookup, where an expression of the values would be compiled for every note. Other text goes through
    that expression (:func:`_mentions_by_expression`): there re's case-insensitive matching, not
    ``casefold``, decides, and the two differ outside ASCII (for 'ß' and the long s)."""
    if not text.isascii():
        return _mentions_by_expression(values, text)
    return (match for match in _WORD.finditer(text) if match.group(0).casefold() in values)


def _mentions_by_expression(values: Collection[str], text: str) -> Iterator[re.Match[str]]:
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.finditer(rf"(?<![\w'\u2019-])(?:{alternatives})(?![^\W\d_])", text, re.IGNORECASE)


def propagate(spans: Sequence[Span], text: str) -> list[Span]:
    """``spans`` plus every other mention, in ``text``, of a travelling token of a confident span."""
    out = list(spans)
    values: dict[str, Span] = {}
    for span in spans:
        if span.type not in _TRAVELLING_TYPES or span.score < _MIN_SCORE:
            continue
        for token in _TOKEN.findall(text[span.start : span.end]):
            if token.islower():
                continue  # only a word written as a name travels ('TURA', 'Kowalczyk'), not 'arnica'
            if _travels(token, text[span.start : span.end], span.type):
                values.setdefault(token.casefold(), span)
    if not values:
        return out
    covered = bytearray(len(text) + 1)
    for span in spans:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    for match in _mentions(values, text):
        start, end = match.span()
        if any(covered[start:end]):
            continue
        found = match.group(0)
        source = values[found.casefold()]
        initials = source.type is not PhiType.NAME and _INITIALS.fullmatch(text[source.start : source.end].strip())
        if (initials and not found.isupper()) or (found.islower() and writes_capitals(text)):
            continue  # 'GH' travels to 'GH' only; a lower-case word in a note that capitalises names is no name
        out.append(Span(start, end, source.type, source.score, source.detector, (*source.reasons, "propagated")))
        covered[start:end] = b"\x01" * (end - start)
    out.sort(key=lambda s: s.start)
    return out


_PLACE_TYPES = frozenset({PhiType.FACILITY, PhiType.LOCATION, PhiType.CITY, PhiType.STREET})
_PLACE_END = re.compile(
    rf"[ \t]+(?P<word>{'|'.join(sorted(PLACE_NAME_ENDINGS, key=len, reverse=True))})\.?(?![\w])", re.I
)
#: Endings that turn a name into a place ('Franklin Square'); 'Hill', 'Park', 'Lake' are surnames too.
_NAME_TO_PLACE = frozenset(
    "square ridge heights harbor falls springs village rehab hosp hospital memorial manor".split()
)
_PLACE_START = re.compile(r"(?:(?<![\w])(?:St|Saint|Mt|Mount|ST|SAINT|MT|MOUNT)\.?[ \t]+)$")
_HYPHENATED = re.compile(r"-[^\W\d_][^\W\d_']{1,20}(?![\w-])")
_LIST_NEXT = re.compile(r"(?:,[ \t]*(?:and[ \t]+)?|[ \t]+(?:and|&)[ \t]+)(?P<word>[A-Z][a-z]{1,15})(?![\w])")


def complete(spans: Sequence[Span], text: str) -> list[Span]:
    """Each place, name and list of names grown to its whole extent (see the module's docstring)."""
    lex = lexicons()
    out: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        start, end = span.start, span.end
        if span.type in _PLACE_TYPES:
            while (match := _PLACE_END.match(text, end)) and _same_case(match.group("word"), text[start:end]):
                end = match.end()
            before = _PLACE_START.search(text, max(0, start - 8), start)
            start = before.start() if before else start
        elif (
            span.type is PhiType.NAME
            and (match := _PLACE_END.match(text, end))
            and (match.group("word").lower() in _NAME_TO_PLACE and _same_case(match.group("word"), text[start:end]))
        ):
            span = Span(start, match.end(), PhiType.LOCATION, span.score, span.detector, (*span.reasons, "completed"))
            end = span.end
        elif span.type is PhiType.NAME:
            hyphen = _HYPHENATED.match(text, end)
            if hyphen and not lex.is_vocabulary(hyphen.group(0)[1:], as_written=True):
                end = hyphen.end()
        grown = span if (start, end) == (span.start, span.end) else _grown(span, start, end)
        if out and out[-1].end > grown.start:
            out.append(span)
            continue
        out.append(grown)
        if span.type is PhiType.NAME:
            out.extend(_listed_names(span, text, lex))
    return _merge_overlaps(out)


def _same_case(word: str, place: str) -> bool:
    return word.isupper() == place.isupper() or word.istitle()


def _grown(span: Span, start: int, end: int) -> Span:
    return Span(start, end, span.type, span.score, span.detector, (*span.reasons, "completed"))


def _listed_names(span: Span, text: str, lex: object) -> list[Span]:
    """First names that follow a found name in a list ('Daughters Patsy, Irma and Lou')."""
    found: list[Span] = []
    end = span.end
    while (match := _LIST_NEXT.match(text, end)) is not None:
        word = match.group("word")
        if not (lexicons().first_names.get(word.lower(), 0.0) > 0.0 and lexicons().is_name_first(word)):
            break
        found.append(
            Span(
                match.start("word"),
                match.end("word"),
                PhiType.NAME,
                span.score,
                span.detector,
                (*span.reasons, "listed"),
            )
        )
        end = match.end()
    return found


def _merge_overlaps(spans: list[Span]) -> list[Span]:
    spans.sort(key=lambda s: (s.start, -s.end))
    out: list[Span] = []
    for span in spans:
        if out and span.start < out[-1].end:
            if span.end > out[-1].end:
                last = out[-1]
                out[-1] = Span(last.start, span.end, last.type, last.score, last.detector, last.reasons)
            continue
        out.append(span)
    return out
