from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.known_values import KnownValueFinder
from pipeline.core.phi_types import PhiType


def found(finder, text):
    return [(text[s.start : s.end], s.type) for s in finder.find(text)]


def test_names_dates_phones_in_the_forms_clinicians_write():
    finder = KnownValueFinder(
        [
            (PhiType.NAME, "Jason Miller"),
            (PhiType.DATE, "2025-04-11"),
            (PhiType.PHONE, "(390) 996-0308"),
            (PhiType.MRN, "6131860"),
            (PhiType.SSN, "847-73-2029"),
        ]
    )
    text = (
        "pt JASON MILLER (MRN 6131860) adm 4/11/25. Miller called 390.996.0308 on 11-Apr-2025; "
        "SSN 847732029. Millerton clinic, mrn 61318600."
    )
    hits = found(finder, text)
    assert ("JASON MILLER", PhiType.NAME) in hits and ("Miller", PhiType.NAME) in hits
    assert ("4/11/25", PhiType.DATE) in hits and ("11-Apr-2025", PhiType.DATE) in hits
    assert ("390.996.0308", PhiType.PHONE) in hits and ("847732029", PhiType.SSN) in hits
    assert ("6131860", PhiType.MRN) in hits
    assert all(value not in ("Millerton", "61318600") for value, _ in hits)


def test_nothing_known_finds_nothing():
    assert KnownValueFinder([]).find("anything at all") == []


@given(st.text(min_size=1, max_size=30).filter(lambda v: v.strip()), st.text(max_size=60), st.text(max_size=60))
def test_a_planted_value_is_always_covered(value, before, after):
    text = f"{before} {value} {after}"
    finder = KnownValueFinder([(PhiType.ID, value)])
    start = len(before) + 1
    spans = finder.find(text)
    if value.strip() and value[0].isalnum() and value[-1].isalnum():
        assert any(s.start <= start and s.end >= start + len(value.strip()) for s in spans) or any(
            text[s.start : s.end].lower() == value.strip().lower() for s in spans
        )
