"""The phone recognizer's libphonenumber matcher skips short candidates without changing a single match."""

from __future__ import annotations

import random

import phonenumbers
from phonenumbers import PhoneMetadata, PhoneNumberFormat
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE, SUPPORTED_REGIONS

from pipeline.core.detection.recognizers.phone_library import (
    MIN_WRITTEN_DIGITS,
    NANP_CODE,
    NUMBER_TYPES,
    PhoneMatcher,
    could_be_valid,
)

_REGION = "US"
_FORMATS = (PhoneNumberFormat.E164, PhoneNumberFormat.INTERNATIONAL, PhoneNumberFormat.NATIONAL)


def _shortest_national(cc: int) -> int:
    return min(
        min(PhoneMetadata.metadata_for_region_or_calling_code(cc, region).general_desc.possible_length)
        for region in COUNTRY_CODE_TO_REGION_CODE[cc]
    )


def test_no_valid_number_is_written_with_fewer_digits_than_the_bound() -> None:
    with_country_code = min(len(str(cc)) + _shortest_national(cc) for cc in COUNTRY_CODE_TO_REGION_CODE)
    home_cc = phonenumbers.country_code_for_region(_REGION)
    idd = PhoneMetadata.metadata_for_region(_REGION).international_prefix
    assert idd.isdigit(), "the bound assumes a fixed international prefix"
    assert with_country_code >= MIN_WRITTEN_DIGITS  # '+43 1234'
    assert _shortest_national(home_cc) >= MIN_WRITTEN_DIGITS  # no country code: read as North American
    assert len(idd) + with_country_code >= MIN_WRITTEN_DIGITS  # '011 43 1234'


def _matches(matcher_class: type[phonenumbers.PhoneNumberMatcher], text: str) -> list[tuple[int, int, str]]:
    matcher = matcher_class(text, _REGION, leniency=phonenumbers.Leniency.VALID, max_tries=2000)
    return [(m.start, m.end, phonenumbers.format_number(m.number, PhoneNumberFormat.E164)) for m in matcher]


def test_matches_equal_the_library_matcher_on_every_regions_numbers_among_lab_values() -> None:
    rng = random.Random(29)
    numbers = [phonenumbers.example_number(region) for region in sorted(SUPPORTED_REGIONS)]
    written = [
        phonenumbers.format_number(n, rng.choice(_FORMATS)) if rng.random() < 0.7
        else phonenumbers.format_out_of_country_calling_number(n, _REGION)
        for n in numbers
        if n is not None
    ]  # fmt: skip
    fillers = ["bp 120/80", "k 4.1", "7.35/41/104/23", "40%", "x212", "2 L", "(3/02)", "3123456", "1-800-FLOWERS"]
    texts = [
        " ".join(rng.choice(fillers) + " " + number + rng.choice(["", " ext 45", ")", ","]) for number in chunk)
        for chunk in (written[i : i + 6] for i in range(0, len(written), 6))
    ]
    texts.append(" ".join(str(rng.randint(0, 10 ** rng.randint(1, 11))) for _ in range(2500)))  # runs out of tries
    found = 0
    for text in texts:
        expected = _matches(phonenumbers.PhoneNumberMatcher, text)
        assert _matches(PhoneMatcher, text) == expected
        found += len(expected)
    assert found > len(written) // 2  # the texts do hold numbers the library finds


def _nanp_written(rng: random.Random) -> str:
    digits = f"{rng.randrange(10**10):010d}"
    shape = rng.choice(["({}) {}-{}", "{}-{}-{}", "{}.{}.{}", "{}{}{}", "+1 {} {} {}", "1-{}-{}-{}"])
    return shape.format(digits[:3], digits[3:6], digits[6:])


def test_no_valid_north_american_number_is_ruled_out_before_validation() -> None:
    rng = random.Random(7)
    examples = [
        phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)
        for region in COUNTRY_CODE_TO_REGION_CODE[NANP_CODE]
        for kind in NUMBER_TYPES
        if (number := phonenumbers.example_number_for_type(region, getattr(phonenumbers.PhoneNumberType, kind.upper())))
    ]
    valid = ruled_out = 0
    for candidate in examples + [_nanp_written(rng) for _ in range(3000)]:
        try:
            is_valid = phonenumbers.is_valid_number(phonenumbers.parse(candidate, _REGION, keep_raw_input=True))
        except phonenumbers.NumberParseException:
            is_valid = False
        valid += is_valid
        ruled_out += not could_be_valid(candidate, _REGION)
        assert could_be_valid(candidate, _REGION) or not is_valid, "a valid number was ruled out"
    assert valid > len(examples) and ruled_out > 1000  # both kinds are among the candidates


def test_matches_equal_the_library_matcher_on_dense_north_american_numbers() -> None:
    rng = random.Random(11)
    texts = [" ".join(f"call {_nanp_written(rng)} or fax {_nanp_written(rng)};" for _ in range(40)) for _ in range(5)]
    for text in texts:
        assert _matches(PhoneMatcher, text) == _matches(phonenumbers.PhoneNumberMatcher, text)
