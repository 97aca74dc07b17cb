from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.generalize import LOW_POPULATION_ZIP3, GeneralizationError, age_bucket, year_only, zip3


def test_zip3_keeps_three_digits_and_zeroes_small_areas():
    assert zip3("02139") == "021"
    assert zip3("02139-4307") == "021"
    assert zip3("03601") == "000"  # 036 is a low-population prefix
    with pytest.raises(GeneralizationError):
        zip3("2139")


@given(st.from_regex(r"\A[0-9]{5}\Z"))
def test_zip3_never_keeps_more_than_three_digits(code):
    out = zip3(code)
    assert len(out) == 3
    assert out == "000" if code[:3] in LOW_POPULATION_ZIP3 else out == code[:3]


def test_year_only():
    assert year_only("1962-03-14") == "1962"
    assert year_only(date(2001, 1, 2)) == "2001"
    with pytest.raises(GeneralizationError):
        year_only("14 March")


@pytest.mark.parametrize(("age", "out"), [(0, "0"), (45, "45"), (89, "89"), (90, "90+"), (104, "104")])
def test_age_bucket(age, out):
    expected = "90+" if age >= 90 else out
    assert age_bucket(age) == expected


def test_age_bucket_rejects_nonsense():
    with pytest.raises(GeneralizationError):
        age_bucket("ninety")
    with pytest.raises(GeneralizationError):
        age_bucket(-1)
