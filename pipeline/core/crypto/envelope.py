"""Envelope encryption: AES-256-GCM under a data key, the data key wrapped by a key-encryption key.

Why an envelope: data is encrypted under random 256-bit data keys, used a bounded number of times, so no
(key, nonce) pair is ever reused however many values are encrypted, and rotating the key-encryption key
(KEK) needs no bulk re-encryption of data: old ciphertexts name the KEK version that wraps their data key.

Why one data key per record (format 3): a record's encrypted fields share one data key, wrapped once,
so a record costs one key derivation and one wrap however many fields it encrypts. Each field still has
its own fresh nonce and its own associated data (field path and PHI type), so a field's ciphertext
cannot be moved to another field; the wrap's associated data binds the message id, so the data key
cannot be moved to another record. A data key serves at most :data:`RECORD_KEY_USES` values (a few
per record; a fresh one when the message id changes), far under GCM's random-nonce bound.

Why a derived wrapping key (formats 2 and 3): the KEK is long-lived, and AES-GCM with random 96-bit
nonces must not encrypt more than about 2^32 messages under one key (NIST SP 800-38D), which a busy
pipeline could reach within a KEK's lifetime. So the KEK never encrypts directly: each data key draws a
256-bit random salt and is wrapped under ``HKDF-SHA256(KEK, salt, info)``, a key used exactly once.
Nothing needs counting and no rotation is forced; two data keys share a wrapping key only if their
salts collide (a 2^-128 event at 2^64 keys).

Why associated data: the GCM associated data binds the ciphertext to the message id, field path and
PHI type (and to the KEK id), so a ciphertext copied into another record or another field, or revealed
under another PHI type, fails to decrypt instead of silently yielding a value out of context.

Serialized form (every format version has this layout; formats 2 and 3 differ only in the wrap's
associated data)::

    enc:<key-id>:<base64url, no padding, of the payload>

    payload = version (1 byte)          0x03 written; 0x02 and 0x01 still read
              || salt (32 bytes)        fresh random per data key; wrapping key = HKDF-SHA256(KEK, salt, info)
              || wrap nonce (12 bytes)  fresh random per data key
              || wrapped data key (48)  AES-256-GCM(wrapping key, data key, wrap AD) incl. 16-byte tag
              || data nonce (12 bytes)  fresh random per value
              || ciphertext || tag(16)  AES-256-GCM(data key, UTF-8 value, AD)

    info    = "phi-pipeline/envelope/v2/wrap" 0x00 key id
    AD      = length-prefixed fields: domain tag, key id, format version, message id, field path, PHI type
    wrap AD = format 3: length-prefixed fields: wrap domain tag, key id, format version, message id
              format 2: AD (the data key was the value's own)

Format 2 (written before format 3, still read): one data key per value, wrapped with the value's AD.
Format 1 (still read): ``0x01 || wrap nonce || wrapped data key || data nonce || ciphertext``, the data
key wrapped under the KEK itself with the value's AD. The version byte is in the associated data, so a
ciphertext relabelled as another format does not open. ``docs/contract.md`` (Ciphertexts) specifies
the formats and ``docs/contract-vectors.json`` holds fixed-key vectors of each, decrypted in the tests.

Field values use the ENCRYPTION key. :meth:`Encryptor.seal_bytes` / :meth:`Encryptor.open_bytes` use
the same layout for arbitrary bytes under the DEADLETTER key and another domain tag (the PHI type is
replaced by a context string, ``deadletter`` by default), so a dead letter's original message is kept
only in encrypted form and cannot be confused with a field ciphertext.

Errors are :class:`EnvelopeError` (or subclasses) with a stable ``reason``: ``enc-malformed``,
``enc-unknown-key``, ``enc-retired-key``, ``enc-wrong-key`` (a key of another purpose), ``enc-invalid``
(altered, or moved to another record, field or PHI type).
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pipeline.core.crypto.encoding import b64url, decode_b64url
from pipeline.core.crypto.keyring import (
    Key,
    KeyPurpose,
    Keyring,
    RetiredKeyError,
    UnknownKeyError,
    WrongKeyPurposeError,
)
from pipeline.core.crypto.random_pool import POOL
from pipeline.core.errors import PipelineError
from pipeline.core.phi_types import PhiType

CIPHERTEXT_PREFIX = "enc"
FORMAT_VERSION = 3  # written: one data key per record; the older versions are still read
PER_VALUE_FORMAT_VERSION = 2  # one data key per value, wrapped under an HKDF-derived key
LEGACY_FORMAT_VERSION = 1  # one data key per value, wrapped under the KEK itself
#: Values one data key encrypts at most (a record's encrypted fields; a fresh key past this many).
RECORD_KEY_USES = 4096
NONCE_BYTES = 12
SALT_BYTES = 32
DATA_KEY_BYTES = 32
TAG_BYTES = 16
_WRAPPED_BYTES = DATA_KEY_BYTES + TAG_BYTES
_SALT_BYTES = {LEGACY_FORMAT_VERSION: 0, PER_VALUE_FORMAT_VERSION: SALT_BYTES, FORMAT_VERSION: SALT_BYTES}
_WRAP_INFO = b"phi-pipeline/envelope/v2/wrap\x00"
_FIELD_DOMAIN = b"phi-pipeline/envelope/v1/field"
_SEALED_DOMAIN = b"phi-pipeline/envelope/v1/sealed"
_DATA_KEY_TAG = b"/data-key"  # format 3: the wrap's domain tag is the value's domain tag + this
_FIELD = struct.Struct(">BQ")


class EnvelopeError(PipelineError):
    """A ciphertext cannot be made or opened. ``reason``, a class attribute, is a stable code (module docstring)."""

    reason = "enc-error"

    def __init__(self, message: str) -> None:
        # Explicit base call: subclasses also derive from keyring errors with other signatures.
        PipelineError.__init__(self, message)


class EnvelopeMalformedError(EnvelopeError):
    reason = "enc-malformed"


class EnvelopeWrongKeyError(EnvelopeError):
    reason = "enc-wrong-key"


class EnvelopeInvalidError(EnvelopeError):
    reason = "enc-invalid"


class EnvelopeUnknownKeyError(UnknownKeyError, EnvelopeError):
    reason = "enc-unknown-key"
    subject = "ciphertext"


class EnvelopeRetiredKeyError(RetiredKeyError, EnvelopeError):
    reason = "enc-retired-key"
    subject = "ciphertext is wrapped by"
    consequence = "decrypted"


@dataclass(frozen=True, slots=True)
class ParsedCiphertext:
    """A serialized ciphertext split into key id and raw payload (no secret involved)."""

    key_id: str
    payload: bytes

    @property
    def version(self) -> int:
        return self.payload[0]

    @property
    def salt(self) -> bytes:
        """The wrapping-key salt (empty for format 1)."""
        return self.payload[1 : 1 + _SALT_BYTES[self.version]]

    def _part(self, start: int, size: int) -> bytes:
        offset = 1 + _SALT_BYTES[self.version] + start
        return self.payload[offset : offset + size]

    @property
    def wrap_nonce(self) -> bytes:
        return self._part(0, NONCE_BYTES)

    @property
    def wrapped_key(self) -> bytes:
        return self._part(NONCE_BYTES, _WRAPPED_BYTES)

    @property
    def data_nonce(self) -> bytes:
        return self._part(NONCE_BYTES + _WRAPPED_BYTES, NONCE_BYTES)

    @property
    def body(self) -> bytes:
        """The data ciphertext with its tag."""
        return self.payload[_header_bytes(self.version) :]


def _header_bytes(version: int) -> int:
    return 1 + _SALT_BYTES[version] + NONCE_BYTES + _WRAPPED_BYTES + NONCE_BYTES


# A record's header (the payload up to the data nonce) is base64-encoded once and prefixes each of its
# values' text: that holds because its length is a multiple of 3 (no padding, no shared character).
assert (_header_bytes(FORMAT_VERSION) - NONCE_BYTES) % 3 == 0


def wrapping_key(kek_material: bytes, key_id: str, salt: bytes) -> bytes:
    """Format 2's one-use wrapping key: HKDF-SHA256 of the KEK with the value's salt."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=DATA_KEY_BYTES, salt=salt, info=_WRAP_INFO + key_id.encode("ascii"))
    return hkdf.derive(kek_material)


def is_ciphertext(text: object) -> bool:
    """True if ``text`` has the shape of an envelope ciphertext (cheap; checks no key or tag)."""
    return isinstance(text, str) and text.startswith(CIPHERTEXT_PREFIX + ":")


def parse_ciphertext(text: str) -> ParsedCiphertext:
    """Split ``enc:<key-id>:<payload>``; raises ``EnvelopeError('enc-malformed')``."""
    if not isinstance(text, str):
        raise EnvelopeMalformedError("ciphertext must be a string")
    parts = text.split(":")
    if len(parts) != 3 or parts[0] != CIPHERTEXT_PREFIX or not parts[1]:
        raise EnvelopeMalformedError("ciphertext must look like enc:<key-id>:<base64url>")
    try:
        payload = decode_b64url(parts[2], "ciphertext payload")
    except ValueError as exc:
        raise EnvelopeMalformedError(str(exc)) from None
    if not payload or payload[0] not in _SALT_BYTES:
        version = payload[0] if payload else "(none)"
        raise EnvelopeMalformedError(
            f"ciphertext format version {version} is not supported (this build reads {sorted(_SALT_BYTES)})"
        )
    if len(payload) < _header_bytes(payload[0]) + TAG_BYTES:
        raise EnvelopeMalformedError(f"ciphertext payload is {len(payload)} bytes; too short")
    return ParsedCiphertext(parts[1], payload)


def _associated_data(
    domain: bytes, key_id: str, version: int, message_id: str | None, field_path: str, last: str
) -> bytes:
    """Presence byte + 8-byte length + bytes per field, so no field can shift into another and a
    missing message id (possible for dead letters) differs from an empty one."""
    return _record_prefix(domain, key_id, version, message_id) + _pack(field_path.encode()) + _pack(last.encode())


def _record_prefix(domain: bytes, key_id: str, version: int, message_id: str | None) -> bytes:
    """The associated data's fields that a record's values share (domain, key id, version, message id)."""
    return _pack(domain) + _record_tail(key_id, version, message_id)


def _record_tail(key_id: str, version: int, message_id: str | None) -> bytes:
    parts = _pack(key_id.encode("ascii")) + _pack(bytes([version]))
    return parts + (_FIELD.pack(0, 0) if message_id is None else _pack(message_id.encode("utf-8")))


def _wrap_associated_data(domain: bytes, key_id: str, message_id: str | None) -> bytes:
    """Format 3's wrap associated data: the record's data key is bound to its message id, not to a field
    (its own domain tag, so it can never equal a value's associated data)."""
    return _pack(domain + _DATA_KEY_TAG) + _record_tail(key_id, FORMAT_VERSION, message_id)


def _pack(part: bytes) -> bytes:
    return _FIELD.pack(1, len(part)) + part


#: Per domain, its associated-data field and its wrap's (:func:`_record_prefix`, :func:`_wrap_associated_data`).
_DOMAIN_FIELDS = {domain: (_pack(domain), _pack(domain + _DATA_KEY_TAG)) for domain in (_FIELD_DOMAIN, _SEALED_DOMAIN)}


@dataclass(slots=True)
class _RecordKey:
    """One record's data key while its values are encrypted: the cipher, the header every value's
    payload starts with (version, salt, wrap nonce, wrapped key) and how many values it has sealed."""

    owner: tuple[str, str | None]  # (key id, message id)
    material: bytes  # the KEK's material it was wrapped under (a replaced key starts a new data key)
    cipher: AESGCM
    text: str  # ``enc:<key id>:`` and the header in base64url (93 bytes: no padding, so it prefixes the rest)
    ad_prefix: bytes  # the associated data up to the field path (:func:`_record_prefix`)
    uses: int = 0


#: Each type's name by the type (``PhiType(...)`` and ``.value`` cost more than sealing a short value).
_TYPE_NAMES: dict[object, str] = {t: t.value for t in PhiType}


class Encryptor:
    """Encrypts field values (ENCRYPTION key) and seals whole messages (DEADLETTER key)."""

    def __init__(self, keyring: Keyring) -> None:
        self._keyring = keyring
        self._keks: dict[str, tuple[bytes, AESGCM]] = {}
        self._records: dict[bytes, _RecordKey] = {}  # per domain: the data key of the record being sealed
        self._opened: tuple[tuple[object, ...], AESGCM] | None = None  # format 3: the last data key unwrapped
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Encryptor({self._keyring!r})"

    def _kek(self, key: Key) -> AESGCM:
        cached = self._keks.get(key.key_id)
        if cached is None or cached[0] is not key.material:
            cached = self._keks[key.key_id] = (key.material, AESGCM(key.material))
        return cached[1]

    # ---- generic envelope ---------------------------------------------------------------------------

    def _seal(
        self, purpose: KeyPurpose, domain: bytes, data: bytes, message_id: str | None, path: str, last: str
    ) -> str:
        kek = self._keyring.current(purpose)
        record = self._record_key(kek, domain, message_id)
        ad = record.ad_prefix + _pack(path.encode()) + _pack(last.encode())
        data_nonce = POOL.take(NONCE_BYTES)
        return record.text + b64url(data_nonce + record.cipher.encrypt(data_nonce, data, ad))

    def _record_key(self, kek: Key, domain: bytes, message_id: str | None) -> _RecordKey:
        """The data key for this message's values under ``domain``: the one in use while the message id,
        the KEK and the use bound allow (a record's fields share it), else a fresh one, wrapped once.
        Messages without an id never share a key."""
        owner = (kek.key_id, message_id)
        with self._lock:
            record = self._records.get(domain)
            if (
                record is None
                or message_id is None
                or record.owner != owner
                or record.material is not kek.material
                or record.uses >= RECORD_KEY_USES
            ):
                fresh = POOL.take(DATA_KEY_BYTES + SALT_BYTES + NONCE_BYTES)
                data_key, salt = fresh[:DATA_KEY_BYTES], fresh[DATA_KEY_BYTES : DATA_KEY_BYTES + SALT_BYTES]
                wrap_nonce = fresh[DATA_KEY_BYTES + SALT_BYTES :]
                tail = _record_tail(kek.key_id, FORMAT_VERSION, message_id)  # shared by both associated data
                wrap_ad = _DOMAIN_FIELDS[domain][1] + tail
                wrapped = AESGCM(wrapping_key(kek.material, kek.key_id, salt)).encrypt(wrap_nonce, data_key, wrap_ad)
                header = b"".join((bytes([FORMAT_VERSION]), salt, wrap_nonce, wrapped))
                text = f"{CIPHERTEXT_PREFIX}:{kek.key_id}:{b64url(header)}"
                record = _RecordKey(owner, kek.material, AESGCM(data_key), text, _DOMAIN_FIELDS[domain][0] + tail)
                self._records[domain] = record
            record.uses += 1
            return record

    def _open(
        self, purpose: KeyPurpose, domain: bytes, text: str, message_id: str | None, path: str, last: str
    ) -> bytes:
        parsed = parse_ciphertext(text)
        key_id = parsed.key_id
        try:
            kek = self._keyring.get(key_id, purpose)
        except WrongKeyPurposeError:
            raise EnvelopeWrongKeyError(
                f"ciphertext names key {key_id}; this operation needs a {purpose.value} key"
            ) from None
        except RetiredKeyError:
            raise EnvelopeRetiredKeyError(key_id) from None
        except UnknownKeyError:
            raise EnvelopeUnknownKeyError(key_id) from None
        ad = _associated_data(domain, kek.key_id, parsed.version, message_id, path, last)
        try:
            if parsed.version == FORMAT_VERSION:
                data = self._data_key(kek, domain, parsed, message_id)
            else:
                if parsed.version == LEGACY_FORMAT_VERSION:
                    unwrap = self._kek(kek)  # format 1: the data key is wrapped under the KEK itself
                else:
                    unwrap = AESGCM(wrapping_key(kek.material, kek.key_id, parsed.salt))
                data = AESGCM(unwrap.decrypt(parsed.wrap_nonce, parsed.wrapped_key, ad))
            return data.decrypt(parsed.data_nonce, parsed.body, ad)
        except InvalidTag:
            raise EnvelopeInvalidError(
                f"ciphertext does not authenticate under key {kek.key_id} for this message id, field path "
                "and type: it was altered, or copied from another record or field",
            ) from None

    def _data_key(self, kek: Key, domain: bytes, parsed: ParsedCiphertext, message_id: str | None) -> AESGCM:
        """Format 3: the record's data key, unwrapped under its message id (the last one is kept, so a
        record's fields unwrap once). Raises ``InvalidTag`` when the wrap does not authenticate."""
        header = parsed.payload[: _header_bytes(FORMAT_VERSION) - NONCE_BYTES]
        ident = (kek.key_id, kek.material, domain, message_id, header)
        opened = self._opened
        if opened is not None and opened[0] == ident:
            return opened[1]
        unwrap = AESGCM(wrapping_key(kek.material, kek.key_id, parsed.salt))
        wrap_ad = _wrap_associated_data(domain, kek.key_id, message_id)
        cipher = AESGCM(unwrap.decrypt(parsed.wrap_nonce, parsed.wrapped_key, wrap_ad))
        self._opened = (ident, cipher)
        return cipher

    # ---- field values -------------------------------------------------------------------------------

    def encrypt(self, value: str, message_id: str, field_path: str, phi_type: PhiType) -> str:
        """Encrypt one field value, bound to its record (message id), field path and PHI type."""
        return self._seal(
            KeyPurpose.ENCRYPTION,
            _FIELD_DOMAIN,
            value.encode("utf-8"),
            message_id,
            field_path,
            _TYPE_NAMES.get(phi_type) or PhiType(phi_type).value,
        )

    def decrypt(self, protected: str, message_id: str, field_path: str, phi_type: PhiType) -> str:
        """Decrypt a value made by :meth:`encrypt` with the same message id, field path and PHI type."""
        plain = self._open(
            KeyPurpose.ENCRYPTION, _FIELD_DOMAIN, protected, message_id, field_path, PhiType(phi_type).value
        )
        return plain.decode("utf-8")

    # ---- whole messages (dead letters) --------------------------------------------------------------

    def seal_bytes(self, data: bytes, message_id: str | None, context: str = "deadletter") -> str:
        """Encrypt arbitrary bytes (a dead letter's original message) under the DEADLETTER key.

        ``message_id`` may be None (a message rejected for lacking one). ``context`` names what the
        bytes are (``deadletter``, or ``deadletter/key`` for a record key) and must be given again to
        open them.
        """
        return self._seal(KeyPurpose.DEADLETTER, _SEALED_DOMAIN, bytes(data), message_id, "", context)

    def open_bytes(self, sealed: str, message_id: str | None, context: str = "deadletter") -> bytes:
        """The bytes given to :meth:`seal_bytes` with the same message id and context (for replay)."""
        return self._open(KeyPurpose.DEADLETTER, _SEALED_DOMAIN, sealed, message_id, "", context)
