"""A name or place found once in a note is found everywhere in it.

Notes name the same clinician, relative or hospital several times, and only some mentions carry a cue
('sent to GH' ... 'GH attorneys'; 'per BEA TURA' ... 'TURA AWARE'). After the merge, every other mention
of a confidently found name or place is added with the same type, as deid-style tools do. Only values that
cannot be an ordinary word travel: a surname or a ward name that is no everyday or clinical word, or a
place's initials in capitals.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from pipeline.core.detection.lexicons import lexicons
from pipeline.core.detection.recognizers.names import STOPWORDS
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


def propagate(spans: Sequence[Span], text: str) -> list[Span]:
    """``spans`` plus every other mention, in ``text``, of a travelling token of a confident span."""
    out = list(spans)
    values: dict[str, Span] = {}
    for span in spans:
        if span.type not in _TRAVELLING_TYPES or span.score < _MIN_SCORE:
            continue
        for token in _TOKEN.findall(text[span.start : span.end]):
            if _travels(token, text[span.start : span.end], span.type):
                values.setdefault(token.casefold(), span)
    if not values:
        return out
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w'\u2019-])(?:{alternatives})(?![^\W\d_])", re.IGNORECASE)
    covered = bytearray(len(text) + 1)
    for span in spans:
        covered[span.start : span.end] = b"\x01" * (span.end - span.start)
    for match in pattern.finditer(text):
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
