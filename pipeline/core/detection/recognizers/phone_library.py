"""libphonenumber's matcher, minus the parsing of candidates too short to be any valid number.

In clinical text most of the matcher's candidates are lab values and doses ('40', '2', '7.35/117'), and
parsing each one and testing it against every North American region's patterns was a third of the rules'
CPU time. A candidate with fewer letters and digits than the shortest valid number cannot be one, so
:class:`PhoneMatcher` answers 'no match' for it without parsing. Everything else (which candidates are
tried, the inner matches, the count of tries) is the library's own, so the matches are the library's.
"""

from __future__ import annotations

from typing import Any

import phonenumbers

#: The fewest digits a valid number can be written with: a country code and the shortest national
#: number together (+43 1234 in Austria, Germany, Iran: 6), or, written without a country code and read
#: in the North American plan (the only region this module asks for), the shortest national number (7,
#: Canada's '3xxxxxx'), or 9 after the '011' international prefix. Letters count as digits, since the
#: library reads '1-800-FLOWERS' through the keypad. tests/unit/test_phone_library.py derives both
#: figures from the library's metadata, so an update that changes them fails there.
MIN_WRITTEN_DIGITS = 6


class PhoneMatcher(phonenumbers.PhoneNumberMatcher):  # type: ignore[misc]
    """:class:`phonenumbers.PhoneNumberMatcher` that rejects a candidate shorter than
    :data:`MIN_WRITTEN_DIGITS` letters and digits before parsing it; the rejection counts as a try, as
    the library's own would."""

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        if sum(c.isalnum() for c in candidate) < MIN_WRITTEN_DIGITS:
            return None
        return super()._parse_and_verify(candidate, offset)
