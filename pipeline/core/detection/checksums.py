"""Check digits and structural rules that separate real identifiers from look-alike digit runs.

All functions take the candidate string (separators allowed where noted) and return a bool; they never
raise on malformed input, so recognizers can call them on anything a regex matched. The check-digit
algorithms python-stdnum carries (Luhn, ISO 7064 mod 97-10, the SSA's SSN rules) come from it; DEA and
VIN, which it does not carry, are computed here.
"""

from __future__ import annotations

import ipaddress
import string

from stdnum import luhn
from stdnum.iso7064 import mod_97_10
from stdnum.us import ssn

_DIGITS = frozenset(string.digits)


def digits_only(value: str) -> str:
    """The digits of ``value`` in order (drops spaces, dashes, dots)."""
    return "".join(c for c in value if c in _DIGITS)


def luhn_valid(number: str) -> bool:
    """Luhn mod-10 over the digits of ``number`` (payment cards, NPI with its prefix, IMEI)."""
    digits = digits_only(number)
    return len(digits) >= 2 and luhn.checksum(digits) == 0


#: Numbers printed as examples that stdnum's list (078-05-1120, 457-55-5462, 219-09-9999) lacks.
_SSN_SAMPLES = frozenset({"123456789"})


def ssn_valid(value: str) -> bool:
    """SSA rules (stdnum): area not 000, 666 or 900-999; group not 00; serial not 0000; not a known
    advertising sample; and not one repeated digit."""
    digits = digits_only(value)
    if len(digits) != 9 or digits in _SSN_SAMPLES or len(set(digits)) == 1:
        return False
    return ssn.is_valid(digits)


def npi_valid(value: str) -> bool:
    """NPI: ten digits starting 1 or 2, Luhn-valid once the '80840' health-industry prefix is added."""
    digits = digits_only(value)
    return len(digits) == 10 and digits[0] in "12" and luhn_valid("80840" + digits)


_DEA_FIRST = frozenset("ABCDEFGHJKLMPRSTUX")


def dea_valid(value: str) -> bool:
    """DEA registration: two letters, seven digits; (d1+d3+d5) + 2*(d2+d4+d6) ends in d7."""
    value = value.strip().upper()
    if len(value) != 9 or value[0] not in _DEA_FIRST or not (value[1].isalpha() or value[1] == "9"):
        return False
    digits = value[2:]
    if not digits.isdigit():
        return False
    d = [int(c) for c in digits]
    return (d[0] + d[2] + d[4] + 2 * (d[1] + d[3] + d[5])) % 10 == d[6]


_VIN_VALUES = {
    **{str(i): i for i in range(10)},
    **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
    **dict(zip("JKLMN", range(1, 6), strict=True)),
    "P": 7,
    "R": 9,
    **dict(zip("STUVWXYZ", range(2, 10), strict=True)),
}
_VIN_WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)


def vin_valid(value: str) -> bool:
    """North American VIN check digit (position 9); I, O and Q never appear."""
    vin = value.strip().upper()
    if len(vin) != 17 or any(c not in _VIN_VALUES for c in vin):
        return False
    total = sum(_VIN_VALUES[c] * w for c, w in zip(vin, _VIN_WEIGHTS, strict=True))
    check = total % 11
    return vin[8] == ("X" if check == 10 else str(check))


def iban_valid(value: str) -> bool:
    """IBAN mod-97 = 1 after moving the country code and check digits to the end."""
    iban = "".join(value.split()).upper()
    if not (15 <= len(iban) <= 34) or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    if not iban.isalnum():
        return False
    return mod_97_10.is_valid(iban[4:] + iban[:4])


def ipv4_valid(value: str) -> bool:
    """Four octets 0-255 without leading zeros (which would be octal to some parsers)."""
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return True


def ipv6_valid(value: str) -> bool:
    """A well-formed IPv6 address (full or compressed)."""
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True
