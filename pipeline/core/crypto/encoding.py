"""Canonical base64 for the text forms of tokens, ciphertexts and MACs.

Every decoder here accepts exactly one spelling per byte string: a stray character, padding where none
belongs or non-zero unused bits in the last character would otherwise let the text of a token, a
ciphertext or a signature change without its bytes changing, so the same value could travel under two
strings. Errors are ``ValueError`` with a message naming ``what`` was malformed; each caller wraps it in
its own error class and reason code.
"""

from __future__ import annotations

import base64
import binascii

#: ``base64.urlsafe_b64encode``'s translation, applied here to ``binascii``'s output directly (the
#: ``base64`` wrappers cost more than the encoding of a token; several are made per record).
_URLSAFE = bytes.maketrans(b"+/", b"-_")


def b64url(data: bytes) -> str:
    """base64url without padding (the form of token and ciphertext payloads)."""
    return binascii.b2a_base64(data, newline=False).translate(_URLSAFE).rstrip(b"=").decode("ascii")


def b64(data: bytes) -> str:
    """Standard, padded base64 (the form of MACs in headers and audit events)."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def decode_b64url(text: str, what: str) -> bytes:
    """The bytes of unpadded, canonical base64url ``text``; ``ValueError`` naming ``what`` otherwise."""
    if "=" in text:
        raise ValueError(f"{what} must be base64url without padding")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not base64url") from None
    if b64url(data) != text:
        raise ValueError(f"{what} is not canonical base64url")
    return data


def decode_b64(text: str, what: str) -> bytes:
    """The bytes of canonical standard base64 ``text``; ``ValueError`` naming ``what`` otherwise."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what} is not valid base64") from None
    if b64(data) != text:
        raise ValueError(f"{what} is not canonical base64")
    return data
