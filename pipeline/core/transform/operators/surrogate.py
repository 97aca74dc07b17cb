"""Surrogate: a realistic fake value, the same one every time for the same value within one patient.

The choice is HMAC(secret, patient_key | type | normalized value), so 'John Smith' and 'JOHN SMITH' get
the same fake name for one patient, a different one for another, and nobody without the key can link
them. Names are replaced token by token, so 'Mr. Smith' and 'John Smith' share the surrogate surname.
Identifiers keep their format (digits stay digits, letters stay letters, separators stay), and dates
are shifted with the patient's offset.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence

from pipeline.core.generalize import age_bucket
from pipeline.core.phi_types import TRAITS, PhiType, Surrogate
from pipeline.core.transform import fake_data
from pipeline.core.transform.actions import Action
from pipeline.core.transform.context import TransformContext
from pipeline.core.transform.operators.base import Operator

_TOKEN = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*|\S")
_INITIAL = re.compile(r"^[^\W\d_]\.?$")


def _stream(ctx: TransformContext, *parts: str) -> Iterator[int]:
    """An endless keyed byte stream for one value (HMAC in counter mode)."""
    counter = 0
    while True:
        yield from ctx.digest(*parts, str(counter))
        counter += 1


def _pick(ctx: TransformContext, options: Sequence[str], *parts: str, avoid: str = "") -> str:
    index = int.from_bytes(ctx.digest(*parts)[:8], "big") % len(options)
    choice = options[index]
    if choice.lower() == avoid.lower():
        choice = options[(index + 1) % len(options)]
    return choice


def _match_case(template: str, value: str) -> str:
    if template.isupper() and len(template) > 1:
        return value.upper()
    if template.islower():
        return value.lower()
    return value


def _normalize(value: str) -> str:
    return " ".join(value.split()).lower()


class SurrogateOperator(Operator):
    """Type-aware fake values, by each type's surrogate kind (:data:`pipeline.core.phi_types.TRAITS`);
    types without a realistic form fall back to a placeholder (None)."""

    action = Action.SURROGATE

    def apply(self, value: str, phi_type: PhiType, ctx: TransformContext) -> str | None:
        kind = TRAITS[phi_type].surrogate
        if kind is Surrogate.NAME:
            return self._name(value, ctx)
        if kind is Surrogate.PLACE:
            return _match_case(value, _pick(ctx, fake_data.CITIES, phi_type.value, _normalize(value), avoid=value))
        if kind is Surrogate.FACILITY:
            return _match_case(value, _pick(ctx, fake_data.FACILITIES, phi_type.value, _normalize(value), avoid=value))
        if kind is Surrogate.STREET:
            return self._street(value, ctx)
        if kind is Surrogate.EMAIL:
            return self._email(value, ctx)
        if kind is Surrogate.URL:
            token = ctx.digest(phi_type.value, _normalize(value)).hex()[:10]
            return f"https://{fake_data.EMAIL_DOMAINS[0]}/{token}"
        if kind is Surrogate.IP:
            return self._ip(value, ctx)
        if kind is Surrogate.DATE:
            return ctx.dates.shift(value, ctx.date_offset())
        if kind is Surrogate.AGE:
            digits = "".join(c for c in value if c.isdigit())
            return age_bucket(digits) if digits else "90+"
        if kind is Surrogate.NONE:
            return None
        return format_preserving(value, ctx, phi_type.value)

    def _name(self, value: str, ctx: TransformContext) -> str:
        tokens = list(_TOKEN.finditer(value))
        words = [t for t in tokens if t.group(0)[0].isalpha() and not _INITIAL.match(t.group(0))]
        out: list[str] = []
        cursor = 0
        for token in tokens:
            text = token.group(0)
            out.append(value[cursor : token.start()])
            cursor = token.end()
            if not text[0].isalpha():
                out.append(text)
            elif _INITIAL.match(text):
                letter = _pick(ctx, fake_data.FIRST_NAMES, "NAME-initial", text.lower(), avoid=text)[0]
                out.append(letter + text[1:])
            else:
                is_first = len(words) > 1 and token is words[0]
                options = fake_data.FIRST_NAMES if is_first else fake_data.LAST_NAMES
                out.append(_match_case(text, _pick(ctx, options, "NAME", text.lower(), avoid=text)))
        out.append(value[cursor:])
        return "".join(out)

    def _street(self, value: str, ctx: TransformContext) -> str:
        number = re.match(r"\s*(\d+)", value)
        street = _pick(ctx, fake_data.STREETS, "STREET", _normalize(value))
        fake_number = format_preserving(number.group(1), ctx, "STREET-number") if number else ""
        return _match_case(value, f"{fake_number} {street}".strip())

    def _email(self, value: str, ctx: TransformContext) -> str:
        first = _pick(ctx, fake_data.FIRST_NAMES, "EMAIL-first", _normalize(value))
        last = _pick(ctx, fake_data.LAST_NAMES, "EMAIL-last", _normalize(value))
        domain = _pick(ctx, fake_data.EMAIL_DOMAINS, "EMAIL-domain", _normalize(value))
        return f"{first}.{last}@{domain}".lower()

    def _ip(self, value: str, ctx: TransformContext) -> str:
        stream = _stream(ctx, "IP", _normalize(value))
        if ":" in value:
            groups = [f"{next(stream) << 8 | next(stream):x}" for _ in range(4)]
            return "fd00::" + ":".join(groups)
        return "10." + ".".join(str(next(stream)) for _ in range(3))


def format_preserving(value: str, ctx: TransformContext, kind: str) -> str:
    """Each digit replaced by a keyed digit, each letter by a keyed letter of the same case.

    Separators and length are kept, so '123-45-6789' stays an SSN-shaped string. If the keyed result
    happens to equal the input, the last digit (or letter) is rotated so the value always changes.
    """
    stream = _stream(ctx, kind, _normalize(value))
    chars = []
    for char in value:
        if char.isdigit():
            chars.append(str(next(stream) % 10))
        elif "a" <= char.lower() <= "z":
            letter = chr(ord("a") + next(stream) % 26)
            chars.append(letter.upper() if char.isupper() else letter)
        else:
            chars.append(char)
    result = "".join(chars)
    if result == value:
        for index in range(len(chars) - 1, -1, -1):
            if chars[index].isdigit():
                chars[index] = str((int(chars[index]) + 1) % 10)
                break
            if chars[index].isalpha():
                chars[index] = "a" if chars[index] != "a" else "b"
                break
        result = "".join(chars)
    return result
