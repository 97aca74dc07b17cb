"""Operators one by one, the policy checks and the engine's offsets."""

import re

import pytest

from pipeline.core.detection import RuleDetector
from pipeline.core.errors import ConfigError
from pipeline.core.phi_types import PhiType
from pipeline.core.spans import Span
from pipeline.core.transform import (
    DEFAULT_TEXT_POLICY,
    Action,
    OperatorUnavailableError,
    PolicyError,
    TransformContext,
    transform_text,
)
from pipeline.core.transform.dateparse import shift_date_text

KEY = b"0123456789abcdef0123456789abcdef"


def ctx(patient="p1", **kw):
    return TransformContext(patient_key=patient, secret=KEY, **kw)


def only(text, phi_type, action, context=None, start=None, end=None):
    span = Span(start or 0, end or len(text), phi_type)
    return transform_text(text, [span], {phi_type: action}, context or ctx())


def test_redact_placeholder_and_offsets():
    text = "Call 617-555-0134 now"
    out = transform_text(text, [Span(5, 17, PhiType.PHONE)], DEFAULT_TEXT_POLICY, ctx())
    assert out.text == "Call [PHONE] now"
    assert [(s.start, s.end, s.type, s.action) for s in out.spans] == [(5, 12, PhiType.PHONE, Action.REDACT)]


def test_missing_type_in_policy_is_redacted():
    out = transform_text("Jane", [Span(0, 4, PhiType.NAME)], {}, ctx())
    assert out.text == "[NAME]"


def test_keep_leaves_value_and_records_span():
    out = only("Jane", PhiType.NAME, Action.KEEP)
    assert out.text == "Jane"
    assert out.spans[0].action is Action.KEEP


def test_surrogate_name_is_consistent_within_patient_and_differs_across():
    a1 = only("John Smith", PhiType.NAME, Action.SURROGATE, ctx("p1")).text
    a2 = only("JOHN SMITH", PhiType.NAME, Action.SURROGATE, ctx("p1")).text
    b = only("John Smith", PhiType.NAME, Action.SURROGATE, ctx("p2")).text
    surname = only("Smith", PhiType.NAME, Action.SURROGATE, ctx("p1")).text
    assert a1.upper() == a2
    assert a1 != "John Smith"
    assert a1 != b
    assert a1.split()[-1] == surname


def test_surrogate_identifier_keeps_format():
    out = only("123-45-6780", PhiType.SSN, Action.SURROGATE).text
    assert re.fullmatch(r"\d{3}-\d{2}-\d{4}", out)
    assert out != "123-45-6780"
    mrn = only("AB00123456", PhiType.MRN, Action.SURROGATE).text
    assert re.fullmatch(r"[A-Z]{2}\d{8}", mrn)


def test_surrogate_email_ip_and_city():
    assert only("jd@x.org", PhiType.EMAIL, Action.SURROGATE).text.endswith(
        ("example.org", "example.com", "example.net")
    )
    assert only("192.168.1.20", PhiType.IP, Action.SURROGATE).text.startswith("10.")
    city = only("Boston", PhiType.CITY, Action.SURROGATE).text
    assert city and city != "Boston"


def test_date_shift_keeps_intervals_and_format():
    context = ctx(shift_days=(10, 10))
    text = "Admitted 03/14/1962, discharged 03/20/1962."
    spans = [Span(9, 19, PhiType.DATE), Span(32, 42, PhiType.DATE)]
    out = transform_text(text, spans, {PhiType.DATE: Action.DATE_SHIFT}, context)
    assert out.text == "Admitted 03/24/1962, discharged 03/30/1962."


@pytest.mark.parametrize(
    ("value", "days", "expected"),
    [
        ("3/14/62", 1, "3/15/62"),
        ("2026-03-14T10:30", 31, "2026-04-14T10:30"),
        ("14-Mar-1962", -14, "28-Feb-1962"),
        ("March 14th", 1, "March 15th"),
        ("14 March 2026", 365, "14 March 2027"),
        ("MAR 14, 2026 10:30 AM", 1, "MAR 15, 2026 10:30 AM"),
        ("March 2026", 40, "April 2026"),
        ("March 2026", 3, "April 2026"),
        ("2/3", 1, "2/4"),
        ("14th", 1, "15th"),
    ],
)
def test_date_shapes_shift_in_their_own_format(value, days, expected):
    assert shift_date_text(value, days) == expected


def test_unparseable_date_falls_back_to_placeholder():
    out = only("sometime", PhiType.DATE, Action.DATE_SHIFT)
    assert out.text == "[DATE]"
    assert out.spans[0].action is Action.REDACT


def test_date_offset_is_per_patient_stable_and_never_zero():
    offsets = {TransformContext(f"p{i}", KEY, shift_days=(-3, 3)).date_offset() for i in range(200)}
    assert offsets == {-3, -2, -1, 1, 2, 3}
    assert ctx("p9").date_offset() == ctx("p9").date_offset()


def test_generalize_date_zip_age():
    assert only("03/14/1962", PhiType.DATE, Action.GENERALIZE).text == "1962"
    assert only("3/14/62", PhiType.DATE, Action.GENERALIZE).text == "1962"
    assert only("62704", PhiType.ZIP, Action.GENERALIZE).text == "627"
    assert only("03601", PhiType.ZIP, Action.GENERALIZE).text == "000"
    assert only("92", PhiType.AGE, Action.GENERALIZE).text == "90+"


def test_generalize_without_a_year_redacts():
    assert only("March 14th", PhiType.DATE, Action.GENERALIZE).text == "[DATE]"


def test_tokenize_uses_the_injected_callable():
    calls = []

    def tokenize(value, phi_type):
        calls.append(phi_type)
        return f"tok_{len(value)}"

    out = only("John", PhiType.NAME, Action.TOKENIZE, ctx(tokenize=tokenize))
    assert out.text == "tok_4"
    assert calls == [PhiType.NAME]


def test_tokenize_without_callable_is_a_clear_error_without_the_value():
    with pytest.raises(OperatorUnavailableError) as info:
        only("John Smith", PhiType.NAME, Action.TOKENIZE)
    assert "tokenize" in str(info.value) and "John" not in str(info.value)
    with pytest.raises(OperatorUnavailableError):
        only("John Smith", PhiType.NAME, Action.ENCRYPT)


def test_policy_validation_lists_bad_pairs():
    with pytest.raises(PolicyError, match="NAME: 'date-shift'"):
        transform_text("x", [], {PhiType.NAME: Action.DATE_SHIFT}, ctx())
    with pytest.raises(PolicyError, match="SSN: 'generalize'"):
        transform_text("x", [], {PhiType.SSN: Action.GENERALIZE}, ctx())


def test_context_rejects_weak_secret_and_bad_range():
    with pytest.raises(ConfigError):
        TransformContext("p", b"short")
    with pytest.raises(ConfigError):
        TransformContext("p", KEY, shift_days=(5, 1))
    with pytest.raises(ConfigError):
        TransformContext("p", KEY, shift_days=(0, 0))


def test_overlapping_input_spans_are_joined():
    out = transform_text("John Smith", [Span(0, 4, PhiType.NAME, 0.9), Span(2, 10, PhiType.ID, 0.5)], {}, ctx())
    assert out.text == "[NAME]"


def test_end_to_end_with_detector_offsets_point_at_replacements():
    text = "Patient: John Doe, MRN 00123456, DOB 03/14/1962, 92 yo, lives at 42 Elm Street, Springfield, IL 62704."
    spans = RuleDetector().detect(text)
    policy = {**DEFAULT_TEXT_POLICY, PhiType.NAME: Action.SURROGATE, PhiType.DATE: Action.DATE_SHIFT,
              PhiType.ZIP: Action.GENERALIZE, PhiType.AGE: Action.GENERALIZE}  # fmt: skip
    out = transform_text(text, spans, policy, ctx())
    for original, replaced in zip(spans, out.spans, strict=True):
        assert out.text[replaced.start : replaced.end] != text[original.start : original.end]
        assert replaced.type is original.type
    assert "John" not in out.text and "00123456" not in out.text and "62704" not in out.text
    assert "627" in out.text and "90+" in out.text
