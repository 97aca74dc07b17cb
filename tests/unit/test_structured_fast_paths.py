"""The structured record's shortcuts give what the generic code gives: top-level fields from the compiled
plan (against ``_walk`` field by field), ISO years without the regex, coverage counted by ``list.count``,
whole arrays of transformations kept (against fastavro's bytes)."""

import io
from collections import Counter

import fastavro
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.core import structured
from pipeline.core.coverage import Coverage, Decision
from pipeline.core.formats.processor import TransformationBytes
from pipeline.core.structured import Transformation
from pipeline.devtools.synthetic import synthetic_records

#: ASCII digits, Arabic-Indic ones (a regex \d, not ASCII) and a superscript two (isdigit, not a \d).
_DIGITS = st.sampled_from("0123456789\u0661\u0662\u00b2")
_YEARISH = st.builds(
    lambda head, sep, tail: head + sep + tail,
    st.text(_DIGITS, min_size=0, max_size=5),
    st.sampled_from(["", "-", "/", "0", "T", " ", "\u0663"]),
    st.text(st.sampled_from("0123456789-/ T:x"), max_size=8),
)


def _year_by_regex(value: object) -> int | None:
    match = structured._YEAR.search(str(value))
    return int(match.group(1)) if match else None


@given(st.one_of(_YEARISH, st.text(max_size=12), st.integers(-100000, 100000)))
@settings(max_examples=400, deadline=None)
def test_year_of_matches_the_regex(value):
    assert structured._year_of(value) == _year_by_regex(value)


@given(st.lists(st.sampled_from([*Decision, None, "ruled"]), max_size=40), st.booleans())
@settings(max_examples=200, deadline=None)
def test_coverage_count_matches_a_counter(decisions, as_tuple):
    coverage = Coverage()
    coverage.count(tuple(decisions) if as_tuple else decisions)
    coverage.count(decisions)  # counts add up across calls
    expected = Counter(filter(None, decisions))
    expected.update(filter(None, decisions))
    assert coverage.counts == expected
    assert coverage.as_details() == {f"leaves_{d.value}": str(expected.get(d, 0)) for d in Decision}


def _generic_leaves(plan, record):
    leaves = []
    for name, sub in plan.fields.items():
        if record.get(name) is not None and sub is not None:
            structured._walk(sub, record, name, name, leaves)
    return leaves


@given(st.integers(0, 10_000), st.sets(st.integers(0, 30)), st.booleans())
@settings(max_examples=60, deadline=None)
def test_top_level_leaves_match_the_generic_walk(registry, seed, cleared, lists):
    entry = registry.get("clinical_record")
    record = next(synthetic_records(1, seed=seed)).record
    names = sorted(record)
    for index in cleared:  # absent values, and values of a shape the schema does not expect
        if index < len(names):
            record[names[index]] = [record[names[index]], "x"] if lists else None
    fast = structured._leaves(entry.plan, structured.copy_tree(record))
    generic = _generic_leaves(entry.plan, structured.copy_tree(record))
    assert [(tag, path, key, value) for tag, path, _, key, value in fast] == [
        (tag, path, key, value) for tag, path, _, key, value in generic
    ]
    assert structured._aged_90_plus(fast) == structured._aged_90_plus(generic)


_POOL = [Transformation(f"f{i}", "ID", "tokenize") for i in range(4)]
_ITEM = st.one_of(
    st.sampled_from(_POOL),  # shared objects, as a structured field's transformations are
    st.builds(Transformation, st.sampled_from(["note", "f0"]), st.just("NAME"), st.just("redact")),  # fresh
    st.builds(lambda s: Transformation("note", "NAME", "redact", s, s + 3, "ensemble"), st.integers(0, 99)),
)


@given(st.lists(st.lists(_ITEM, max_size=6), min_size=1, max_size=8), st.integers(1, 4))
@settings(max_examples=80, deadline=None)
def test_transformation_arrays_kept_whole_are_fastavros_bytes(registry, sequences, limit):
    output = registry.get("deidentified_clinical_record")
    encoder = TransformationBytes(limit=limit)
    for transformations in [*sequences, *sequences]:  # made, then found again (or made again past the limit)
        records = [t.as_record() for t in transformations]
        array = next(f["type"] for f in output.parsed["fields"] if f["name"] == "phi_transformations")
        buffer = io.BytesIO()
        fastavro.schemaless_writer(buffer, array, records)
        assert encoder.encode(output, transformations) == buffer.getvalue()
