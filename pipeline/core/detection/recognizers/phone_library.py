"""libphonenumber's matcher, minus the parsing of candidates too short to be any valid number and the
validation of North American numbers that no region's pattern can match.

In clinical text most of the matcher's candidates are lab values and doses ('40', '2', '7.35/117'), and
parsing each one and testing it against every North American region's patterns was a third of the rules'
CPU time. A candidate with fewer letters and digits than the shortest valid number cannot be one, so
:class:`PhoneMatcher` answers 'no match' for it without parsing. Of the rest, a candidate read as a +1
number whose digits match no number type of any North American region cannot be valid either (the
library would test it against each of the 25 regions' patterns, one call each, to find that out): one
expression, the union of those patterns, says so. Everything else (which candidates are tried, the inner
matches, the count of tries) is the library's own, so the matches are the library's.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import phonenumbers
from phonenumbers import NumberParseException, PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

#: The fewest digits a valid number can be written with: a country code and the shortest national
#: number together (+43 1234 in Austria, Germany, Iran: 6), or, written without a country code and read
#: in the North American plan (the only region this module asks for), the shortest national number (7,
#: Canada's '3xxxxxx'), or 9 after the '011' international prefix. Letters count as digits, since the
#: library reads '1-800-FLOWERS' through the keypad. tests/unit/test_phone_library.py derives both
#: figures from the library's metadata, so an update that changes them fails there.
MIN_WRITTEN_DIGITS = 6

#: The North American plan's calling code, the one whose validation this module short-cuts.
NANP_CODE = 1
#: The number types ``phonenumberutil._number_type_helper`` tries; a number it finds none of is not valid.
NUMBER_TYPES = (
    "premium_rate", "toll_free", "shared_cost", "voip", "personal_number", "pager", "uan", "voicemail",
    "fixed_line", "mobile",
)  # fmt: skip


@functools.cache
def nanp_number_pattern() -> re.Pattern[str]:
    """Every number type's pattern of every region under +1, as one alternation (each distinct pattern
    once; built at first use): a national number that fully matches none of them is valid in no region
    (``is_valid_number`` needs one type to match)."""
    patterns = {
        desc.national_number_pattern: None
        for region in COUNTRY_CODE_TO_REGION_CODE[NANP_CODE]
        for desc in (getattr(PhoneMetadata.metadata_for_region(region), kind) for kind in NUMBER_TYPES)
        if desc is not None and desc.national_number_pattern
    }
    return re.compile("|".join(f"(?:{pattern})" for pattern in patterns))


@functools.lru_cache(maxsize=4096)
def could_be_valid(candidate: str, region: str) -> bool:
    """False when ``candidate`` cannot be a valid number read in ``region``: it does not parse, or it parses
    as a +1 number whose national number matches no North American number type. True says only 'maybe'.
    Cached per process (a note repeats its numbers; the cache is bounded and never written out)."""
    try:
        number = phonenumbers.parse(candidate, region, keep_raw_input=True)
    except NumberParseException:
        return False
    if number.country_code != NANP_CODE:
        return True
    return nanp_number_pattern().fullmatch(phonenumbers.national_significant_number(number)) is not None


class PhoneMatcher(phonenumbers.PhoneNumberMatcher):  # type: ignore[misc]
    """:class:`phonenumbers.PhoneNumberMatcher` that rejects, before the library's own parsing and
    validation, a candidate shorter than :data:`MIN_WRITTEN_DIGITS` letters and digits, and (at the
    ``VALID`` leniency or stricter, which test validity) one that :func:`could_be_valid` rules out; each
    rejection counts as a try, as the library's own would."""

    def _parse_and_verify(self, candidate: str, offset: int) -> Any:
        if len(candidate) < MIN_WRITTEN_DIGITS or sum(c.isalnum() for c in candidate) < MIN_WRITTEN_DIGITS:
            return None
        if self.leniency >= phonenumbers.Leniency.VALID and not could_be_valid(candidate, self.preferred_region):
            return None
        return super()._parse_and_verify(candidate, offset)
