"""Check digits and structural rules: known-good values pass, one changed digit fails."""

import pytest

from pipeline.core.detection import checksums


@pytest.mark.parametrize(
    "number", ["4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", "6011111111111117"]
)
def test_luhn_accepts_test_card_numbers(number):
    assert checksums.luhn_valid(number)


@pytest.mark.parametrize("number", ["4111 1111 1111 1112", "378282246310006", "1", ""])
def test_luhn_rejects_altered_numbers(number):
    assert not checksums.luhn_valid(number)


@pytest.mark.parametrize("number", ["490154203237518", "79927398713", "80840 1234567893"])
def test_luhn_accepts_imei_and_prefixed_npi(number):
    assert checksums.luhn_valid(number)


@pytest.mark.parametrize("number", ["490154203237517", "79927398710", "80840 1234567894"])
def test_luhn_rejects_the_same_numbers_with_one_digit_changed(number):
    assert not checksums.luhn_valid(number)


@pytest.mark.parametrize("ssn", ["123-45-6780", "001-01-0001", "772 12 3456"])
def test_ssn_structure_accepts_valid(ssn):
    assert checksums.ssn_valid(ssn)


@pytest.mark.parametrize(
    "ssn",
    [
        "000-12-3456",
        "666-12-3456",
        "912-12-3456",
        "123-00-4567",
        "123-45-0000",
        "123-45-6789",
        "111-11-1111",
        "078-05-1120",  # the Woolworth wallet card
        "457-55-5462",  # the LifeLock advertisement; from python-stdnum's list
        "219-09-9999",
        "12-345-678",
    ],
)
def test_ssn_structure_rejects_invalid_areas_groups_serials_and_samples(ssn):
    assert not checksums.ssn_valid(ssn)


def test_npi_check_digit():
    assert checksums.npi_valid("1234567893")
    assert not checksums.npi_valid("1234567894")
    assert not checksums.npi_valid("3234567893")  # must start with 1 or 2


def test_dea_check_digit():
    assert checksums.dea_valid("AB1234563")
    assert not checksums.dea_valid("AB1234564")
    assert not checksums.dea_valid("ZB1234563")  # Z is not a registrant type


def test_vin_check_digit():
    assert checksums.vin_valid("1HGCM82633A004352")
    assert not checksums.vin_valid("1HGCM82643A004352")
    assert not checksums.vin_valid("1HGCM8263IA004352")  # I never appears in a VIN


@pytest.mark.parametrize(
    "iban",
    ["GB82 WEST 1234 5698 7654 32", "DE89 3704 0044 0532 0130 00", "NL91ABNA0417164300", "fr1420041010050500013m02606"],
)
def test_iban_mod97_accepts_valid(iban):
    assert checksums.iban_valid(iban)


@pytest.mark.parametrize(
    "iban",
    [
        "GB82 WEST 1234 5698 7654 33",  # one digit changed
        "DE89 3704 0044 0532 0130 01",
        "NL19ABNA0417164300",  # check digits swapped
        "GB82WEST12",  # too short
        "9B82 WEST 1234 5698 7654 32",  # no country code
        "GB82 WÉST 1234 5698 7654 32",  # a letter outside base 36 is refused, not raised
    ],
)
def test_iban_mod97_rejects_invalid(iban):
    assert not checksums.iban_valid(iban)


def test_ip_ranges():
    assert checksums.ipv4_valid("192.168.1.20")
    assert not checksums.ipv4_valid("256.1.1.1")
    assert checksums.ipv6_valid("2001:db8::1")
    assert not checksums.ipv6_valid("2001:db8:::1")
