from hypothesis import given
from hypothesis import strategies as st

from pipeline.core.known_values import KnownValueFinder
from pipeline.core.phi_types import PhiType
from pipeline.core.token_match import tokens


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


@given(st.text(min_size=1, max_size=30), st.text(max_size=60), st.text(max_size=60))
def test_a_planted_value_is_always_covered(value, before, after):
    text = f"{before} {value} {after}"
    value_tokens = tokens(value)
    if not value_tokens:
        return  # nothing identifying to find
    spans = KnownValueFinder([(PhiType.ID, value)]).find(text)
    start = len(before) + 1
    first = start + min(i for i, ch in enumerate(value) if ch.isalnum() and ch != "_")
    assert any(s.start <= first < s.end for s in spans) or any(
        tokens(text[s.start : s.end]) == value_tokens for s in spans
    )
