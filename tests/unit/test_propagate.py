"""Propagation finds a confident name's other mentions; the ASCII scan finds exactly what the per-note
expression of the values finds."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.detection.propagate import _TOKEN, _mentions, _mentions_by_expression, propagate
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span

#: ASCII pieces that sit on the edges of a mention: letters of both cases, digits, apostrophes, hyphens,
#: underscores and the punctuation and spaces of notes.
PIECES = st.sampled_from(
    ["Tura", "TURA", "tura", "Tu", "ra", "O", "Brien", "'", "-", "_", "7", " ", ".", ",", "\n", "/"]
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(PIECES, max_size=30), extra=st.lists(st.sampled_from(["tura", "obrien", "x"]), max_size=2))
def test_ascii_scan_finds_what_the_expression_finds(pieces: list[str], extra: list[str]) -> None:
    text = "".join(pieces)
    values = {token.casefold() for token in _TOKEN.findall(text)[::2]} | set(extra)
    if not values:
        return
    found = [m.span() for m in _mentions(values, text)]
    assert found == [m.span() for m in _mentions_by_expression(values, text)]


def test_a_confident_name_travels_to_its_other_mentions() -> None:
    text = "Seen with BEA TURA today. Tura's daughter called; TURA AWARE of plan. Naturally Turandot."
    found = Span(text.index("TURA"), text.index("TURA") + 4, PhiType.NAME, 0.9, "model", ())
    added = [s for s in propagate([found], text) if "propagated" in s.reasons]
    assert [text[s.start : s.end] for s in added] == ["Tura", "TURA"]  # not inside 'Naturally' or 'Turandot'


def test_text_beyond_ascii_is_matched_as_the_expression_matches() -> None:
    text = "Dr. Strauß visited; STRAUSS and strauß again."
    values = {"strauß"}
    assert [m.group(0) for m in _mentions(values, text)] == ["Strauß", "strauß"]  # 'ß' is not 'SS' to re
