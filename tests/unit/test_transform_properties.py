"""Property tests: whatever the text and policy, detected values do not survive and offsets stay true."""

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.core.detection import RuleDetector
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.core.transform import Action, TransformContext, transform_text

DETECTOR = RuleDetector()
KEY = b"k" * 32
FILLER = st.sampled_from(
    ["patient", "reports", "no", "chest", "pain", "today,", "follow", "up", "in", "clinic.", "and"]
)

digits = st.integers(min_value=0, max_value=9)
ssn = st.builds(
    lambda a, g, s: f"{a:03d}-{g:02d}-{s:04d}", st.integers(1, 665), st.integers(1, 99), st.integers(1, 9999)
)
phone = st.builds(
    lambda a, b, c: f"({a}) {b}-{c:04d}", st.integers(201, 989), st.integers(200, 999), st.integers(0, 9999)
)
email = st.builds(
    lambda u, d: f"{u}@{d}.org",
    st.from_regex(r"[a-z]{3,8}", fullmatch=True),
    st.from_regex(r"[a-z]{3,8}", fullmatch=True),
)
date = st.builds(
    lambda m, d, y: f"{m:02d}/{d:02d}/{y}", st.integers(1, 12), st.integers(1, 28), st.integers(1930, 2030)
)
mrn = st.builds(lambda n: f"MRN {n}", st.integers(1000000, 99999999))
PHI = st.one_of(ssn, phone, email, date, mrn)

POLICIES = st.sampled_from(
    [
        {},
        {t: Action.SURROGATE for t in PhiType} | {PhiType.DATE: Action.DATE_SHIFT},
        {PhiType.DATE: Action.GENERALIZE, PhiType.ZIP: Action.GENERALIZE, PhiType.AGE: Action.GENERALIZE},
        {t: Action.TOKENIZE for t in PhiType},
    ]
)


@st.composite
def notes(draw):
    parts = []
    for _ in range(draw(st.integers(1, 6))):
        parts.extend(draw(st.lists(FILLER, min_size=1, max_size=4)))
        parts.append(draw(PHI))
    return " ".join(parts)


def _tokenize(value: str, phi_type: PhiType) -> str:
    return f"<tok:{phi_type.value}:{len(value)}>"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=notes(), policy=POLICIES, patient=st.text(min_size=1, max_size=8))
def test_detected_values_never_survive_and_offsets_hold(text, policy, patient):
    spans = DETECTOR.detect(text)
    ctx = TransformContext(patient, KEY, tokenize=_tokenize)
    out = transform_text(text, spans, policy, ctx)
    assert len(out.spans) == len(spans)
    # Offsets: the text between output spans equals the text between input spans, in order.
    prev_in, prev_out = 0, 0
    for original, replaced in zip(spans, out.spans, strict=True):
        assert text[prev_in : original.start] == out.text[prev_out : replaced.start]
        assert replaced.end > replaced.start
        prev_in, prev_out = original.end, replaced.end
    assert text[prev_in:] == out.text[prev_out:]
    # No detected value is left where it was, nor anywhere in the output.
    for original, replaced in zip(spans, out.spans, strict=True):
        value = text[original.start : original.end]
        assert out.text[replaced.start : replaced.end] != value
        if len(value) >= 6 and policy.get(original.type) is not Action.GENERALIZE:
            assert value not in out.text


@settings(max_examples=40, deadline=None)
@given(text=notes())
def test_every_planted_ssn_and_email_is_detected(text):
    spans = DETECTOR.detect(text)
    covered = [False] * len(text)
    for span in spans:
        for i in range(span.start, span.end):
            covered[i] = True
    for token in text.split():
        stripped = token.rstrip(",.")
        if "@" in stripped or (stripped.count("-") == 2 and stripped.replace("-", "").isdigit()):
            start = text.index(stripped)
            assert all(covered[start : start + len(stripped)]), "planted identifier not covered"


@settings(max_examples=40, deadline=None)
@given(
    text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200),
    cuts=st.lists(st.tuples(st.integers(0, 200), st.integers(1, 20)), max_size=6),
)
def test_arbitrary_spans_on_arbitrary_text_keep_offsets_consistent(text, cuts):
    spans = [
        Span(start, min(start + length, len(text)), PhiType.NAME)
        for start, length in cuts
        if start < len(text) and min(start + length, len(text)) > start
    ]
    out = transform_text(text, spans, {}, TransformContext("p", KEY))
    for replaced in out.spans:
        assert out.text[replaced.start : replaced.end] == "[NAME]"


@settings(max_examples=30, deadline=None)
@given(text=st.text(max_size=300))
def test_detector_never_raises_and_spans_are_valid(text):
    spans = DETECTOR.detect(text)
    for left, right in itertools.pairwise(spans):
        assert left.end <= right.start
    for span in spans:
        assert 0 <= span.start < span.end <= len(text)
