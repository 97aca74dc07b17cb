"""The keyring: every secret key the pipeline uses, each with a purpose, a version and a status.

Why a keyring rather than one secret: HIPAA's integrity and access-control safeguards need separate
keys per job (a leaked ingest HMAC key must not let anyone read tokens), and keys must rotate without
downtime. So every key has an id ``<purpose>-v<version>`` (for example ``token-v3``) that travels with
the data it protects (in ``phi-hmac`` headers, token and ciphertext prefixes, audit signatures). New
data always uses the newest *active* key of a purpose; older active versions still verify, detokenize
and decrypt; a *retired* key is refused everywhere.

Purposes and key sizes (see :class:`KeyPurpose`): ``ingest-hmac``, ``egress-hmac``, ``encryption``
(key-encryption key for envelopes), ``audit`` (audit chain signatures), ``deadletter`` and
``pseudonym`` (surrogates and date shifts) hold 256-bit keys; ``token`` holds a 512-bit key because
AES-SIV splits its key into a MAC half and a cipher half.

File format (UTF-8 JSON; ``created`` is ISO 8601 UTC; ``material`` is standard base64)::

    {
      "format": "phi-pipeline-keyring",
      "format_version": 1,
      "keys": [
        {"key_id": "token-v1", "purpose": "token", "version": 1, "status": "active",
         "created": "2025-01-31T12:00:00Z", "material": "<base64 of 64 bytes>"},
        {"key_id": "audit-v1", "purpose": "audit", "version": 1, "status": "retired",
         "created": "2025-01-31T12:00:00Z", "material": "<base64 of 32 bytes>"}
      ]
    }

The file must be a regular file (a symlink to one is fine: Kubernetes mounts Secrets that way) that
neither group nor others can read (mode 0600 or 0400); anything else is refused with the ``chmod`` to
run. For tests, the environment variable ``PHI_KEYRING`` may hold the same JSON, either plain or
base64-encoded (:meth:`Keyring.from_env`).

No ``repr`` and no exception message here ever shows key material.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pipeline.core.errors import PipelineError

FORMAT_NAME = "phi-pipeline-keyring"
FORMAT_VERSION = 1
ENV_VAR = "PHI_KEYRING"


class KeyPurpose(StrEnum):
    """What a key is for. The value is the key id prefix and appears in files and headers."""

    INGEST_HMAC = "ingest-hmac"  # producers sign input messages; the ingest agent verifies
    EGRESS_HMAC = "egress-hmac"  # the pipeline signs every output message; consumers verify
    TOKEN = "token"  # noqa: S105 (a purpose name, not a secret); deterministic AES-SIV tokens
    ENCRYPTION = "encryption"  # key-encryption key wrapping per-value AES-GCM data keys
    AUDIT = "audit"  # audit hash-chain signatures
    DEADLETTER = "deadletter"  # seals the original bytes of dead letters
    PSEUDONYM = "pseudonym"  # keys surrogate choice and per-patient date shifts


class KeyStatus(StrEnum):
    """Active keys are usable; retired keys are kept only so the refusal can say why."""

    ACTIVE = "active"
    RETIRED = "retired"


#: Key material length in bytes per purpose (AES-SIV needs a double-length key).
KEY_SIZES: dict[KeyPurpose, int] = {p: 32 for p in KeyPurpose} | {KeyPurpose.TOKEN: 64}

_KEY_ID_RE = re.compile(
    r"^(?P<purpose>" + "|".join(re.escape(p.value) for p in KeyPurpose) + r")-v(?P<version>[1-9][0-9]{0,8})$"
)


class KeyringError(PipelineError):
    """Base class for keyring problems. ``reason`` is a stable code for metrics and dead letters."""

    reason = "keyring-error"


class KeyringFileError(KeyringError):
    """The keyring file or environment variable cannot be read or parsed."""

    reason = "keyring-file"


class KeyringPermissionError(KeyringFileError):
    """The keyring file is readable by group or others, or is not a regular file."""

    reason = "keyring-permissions"


class UnknownKeyError(KeyringError):
    """No key with this id is in the keyring (or the id is not of the form ``<purpose>-v<n>``)."""

    reason = "unknown-key"
    #: What named the key ('token', 'ciphertext'): a subclass per kind of data sets it beside its own reason,
    #: so tokens and ciphertexts share this one class instead of parallel copies.
    subject = ""

    def __init__(self, key_id: str, message: str | None = None) -> None:
        self.key_id = key_id if is_key_id(key_id) else None
        if message is None and self.subject:
            message = f"{self.subject} names {describe_key_id(key_id)}, not in the keyring"
        super().__init__(message or f"{describe_key_id(key_id)} is not in the keyring: {_LOAD_HINT}")


class RetiredKeyError(KeyringError):
    """The key exists but was retired: data under it can no longer be verified or read."""

    reason = "retired-key"
    #: For a subclass per kind of data: how the data used the key, and what can no longer be done.
    subject = ""
    consequence = ""

    def __init__(self, key_id: str, message: str | None = None) -> None:
        self.key_id = key_id
        if message is None and self.subject:
            message = f"{self.subject} key {key_id}, which is retired; it can no longer be {self.consequence}"
        super().__init__(
            message
            or f"key {key_id} is retired and refused; if data under it must still be read, set its status "
            f"back to active in the keyring file (retire a key only once nothing needs it)"
        )


class WrongKeyPurposeError(KeyringError):
    """A key id names a key of another purpose than the operation needs (for example an audit key
    offered to verify an ingest signature)."""

    reason = "wrong-key-purpose"


class NoActiveKeyError(KeyringError):
    """The keyring has no active key of a purpose needed to protect new data."""

    reason = "no-active-key"


_LOAD_HINT = "check that the worker loaded the current keyring (keys rotated elsewhere must be redeployed)"


def is_key_id(key_id: object) -> bool:
    """True for a syntactically valid key id ``<purpose>-v<version>`` of a known purpose."""
    return isinstance(key_id, str) and _KEY_ID_RE.match(key_id) is not None


def parse_key_id(key_id: str) -> tuple[KeyPurpose, int]:
    """Split a key id into purpose and version; raises :class:`UnknownKeyError` if malformed."""
    m = _KEY_ID_RE.match(key_id) if isinstance(key_id, str) else None
    if m is None:
        raise UnknownKeyError(key_id)
    return KeyPurpose(m["purpose"]), int(m["version"])


def describe_key_id(key_id: object) -> str:
    """A safe way to name a key id in an error: the id when well formed, never arbitrary input
    (a key id read from a message header is attacker-controlled and could carry anything)."""
    return f"key {key_id}" if is_key_id(key_id) else "a key id of unknown form"


class KeyInfo(Protocol):
    """What a key is, apart from its material (a :class:`Key`, or a wrapped key in a wrapped keyring)."""

    key_id: str
    purpose: KeyPurpose
    version: int
    status: KeyStatus
    created: datetime


def describe_key(key: KeyInfo) -> dict[str, object]:
    """Id, purpose, version, status and creation time: safe to print, log or list."""
    return {
        "key_id": key.key_id,
        "purpose": key.purpose.value,
        "version": key.version,
        "status": key.status.value,
        "created": _format_time(key.created),
    }


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _format_time(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, eq=False)
class Key:
    """One key. ``material`` is kept out of ``repr`` and equality is by id and material."""

    key_id: str
    purpose: KeyPurpose
    version: int
    status: KeyStatus
    created: datetime
    material: bytes = field(repr=False)

    def __post_init__(self) -> None:
        expected = f"{self.purpose.value}-v{self.version}"
        if self.key_id != expected:
            raise KeyringFileError(
                f"{describe_key_id(self.key_id)} does not match its purpose and version (expected {expected})"
            )
        if len(self.material) != KEY_SIZES[self.purpose]:
            raise KeyringFileError(
                f"key {self.key_id} has {len(self.material)} bytes of material; "
                f"{self.purpose.value} keys need {KEY_SIZES[self.purpose]}"
            )

    @property
    def active(self) -> bool:
        return self.status is KeyStatus.ACTIVE

    def __repr__(self) -> str:
        return (
            f"Key(key_id={self.key_id!r}, status={self.status.value!r}, "
            f"created={_format_time(self.created)!r}, material=<{len(self.material)} bytes hidden>)"
        )

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Key):
            return NotImplemented
        return (
            self.key_id == other.key_id
            and self.status == other.status
            and secrets.compare_digest(self.material, other.material)
        )

    def __hash__(self) -> int:
        return hash(self.key_id)

    def to_dict(self) -> dict[str, object]:
        """The JSON form of this key, material included: only for writing the keyring file."""
        return {**self.describe(), "material": base64.b64encode(self.material).decode("ascii")}

    def describe(self) -> dict[str, object]:
        """Everything about the key except its material: safe to print, log or list."""
        return describe_key(self)

    @classmethod
    def new(cls, purpose: KeyPurpose, version: int, now: datetime | None = None) -> Key:
        """A fresh random key from the operating system's CSPRNG."""
        return cls(
            key_id=f"{purpose.value}-v{version}",
            purpose=purpose,
            version=version,
            status=KeyStatus.ACTIVE,
            created=now or _utc_now(),
            material=secrets.token_bytes(KEY_SIZES[purpose]),
        )


class Keyring:
    """All keys, looked up by id; the newest active key of a purpose protects new data.

    Mutations (:meth:`rotate`, :meth:`retire`) change this object only; :meth:`save` persists them.
    """

    def __init__(self, keys: Iterable[Key] = ()) -> None:
        self._keys: dict[str, Key] = {}
        #: Newest active key per purpose, looked up on every token, signature and ciphertext: cached,
        #: and dropped whenever a key is added or retired.
        self._current: dict[KeyPurpose, Key] = {}
        for key in keys:
            if key.key_id in self._keys:
                raise KeyringFileError(f"key {key.key_id} appears twice in the keyring; remove one entry")
            self._keys[key.key_id] = key
        self._current.clear()

    def __repr__(self) -> str:
        ids = ", ".join(f"{k.key_id}({k.status.value})" for k in self)
        return f"Keyring([{ids}])"

    __str__ = __repr__

    def __iter__(self) -> Iterator[Key]:
        return iter(sorted(self._keys.values(), key=lambda k: (k.purpose.value, k.version)))

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    # ---- construction -------------------------------------------------------------------------------

    @classmethod
    def generate(cls, purposes: Iterable[KeyPurpose] = tuple(KeyPurpose), now: datetime | None = None) -> Keyring:
        """A new keyring with version 1 of each purpose (all of them by default)."""
        created = now or _utc_now()
        return cls(Key.new(p, 1, created) for p in purposes)

    @classmethod
    def from_dict(cls, data: object) -> Keyring:
        """Parse the JSON structure described in the module docstring, validating every field."""
        if not isinstance(data, Mapping) or data.get("format") != FORMAT_NAME:
            raise KeyringFileError(f'not a keyring: expected a JSON object with "format": "{FORMAT_NAME}"')
        if data.get("format_version") != FORMAT_VERSION:
            raise KeyringFileError(f"unsupported keyring format_version; this build reads version {FORMAT_VERSION}")
        raw_keys = data.get("keys")
        if not isinstance(raw_keys, list):
            raise KeyringFileError('keyring "keys" must be a list')
        return cls(_key_from_dict(i, entry) for i, entry in enumerate(raw_keys))

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        """Parse keyring JSON text."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            # ``from None``: a JSONDecodeError carries the whole document (key material) in ``.doc``.
            raise KeyringFileError(
                f"keyring is not valid UTF-8 JSON ({type(exc).__name__} at position "
                f"{getattr(exc, 'pos', getattr(exc, 'start', '?'))})"
            ) from None
        return cls.from_dict(data)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read a keyring file, refusing anything but a regular file that only its owner can read."""
        raw, _ = read_keyring_file(path, require_private=True)
        return cls.from_json(raw)

    @classmethod
    def from_env(cls, var: str = ENV_VAR, environ: Mapping[str, str] | None = None) -> Keyring:
        """Read the keyring JSON from an environment variable, plain or base64 (for tests and CI)."""
        env = os.environ if environ is None else environ
        text = env.get(var)
        if not text:
            raise KeyringFileError(f"environment variable {var} is not set or empty; it must hold keyring JSON")
        text = text.strip()
        if not text.startswith("{"):
            try:
                text = base64.b64decode(text, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise KeyringFileError(
                    f"environment variable {var} holds neither keyring JSON nor base64 of it"
                ) from None
        return cls.from_json(text)

    # ---- persistence --------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, object]:
        """The full JSON structure, key material included (for :meth:`save` and the env var form)."""
        return {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "keys": [k.to_dict() for k in self],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def to_env_value(self) -> str:
        """The base64 form for :data:`ENV_VAR`."""
        return base64.b64encode(self.to_json().encode("utf-8")).decode("ascii")

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the keyring atomically with mode 0600: a crash leaves the old file or the new, never half."""
        write_private_file(path, self.to_json().encode("utf-8"))

    # ---- lookup -------------------------------------------------------------------------------------

    def get(self, key_id: str, purpose: KeyPurpose | None = None) -> Key:
        """The active key with this id; raises :class:`UnknownKeyError`, :class:`RetiredKeyError`, or
        :class:`WrongKeyPurposeError` when ``purpose`` is given and the key is for something else."""
        key = self._keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            raise UnknownKeyError(key_id)
        if purpose is not None and key.purpose is not purpose:
            raise WrongKeyPurposeError(
                f"key {key.key_id} is a {key.purpose.value} key; this operation needs a {purpose.value} key"
            )
        if not key.active:
            raise RetiredKeyError(key.key_id)
        return key

    def describe(self, key_id: str) -> Key:
        """The key with this id whatever its status (for listings and messages); unknown raises."""
        key = self._keys.get(key_id) if isinstance(key_id, str) else None
        if key is None:
            raise UnknownKeyError(key_id)
        return key

    def current(self, purpose: KeyPurpose) -> Key:
        """The newest active key of a purpose: the one that protects new data."""
        cached = self._current.get(purpose)
        if cached is not None:
            return cached
        active = [k for k in self._keys.values() if k.purpose is purpose and k.active]
        if not active:
            raise NoActiveKeyError(
                f"the keyring has no active {purpose.value} key; add one with: "
                f"phi-pipeline keys rotate --path <keyring> --purpose {purpose.value}"
            )
        self._current[purpose] = max(active, key=lambda k: k.version)
        return self._current[purpose]

    def keys(self, purpose: KeyPurpose | None = None) -> list[Key]:
        """All keys (optionally of one purpose), ordered by purpose then version."""
        return [k for k in self if purpose is None or k.purpose is purpose]

    # ---- lifecycle ----------------------------------------------------------------------------------

    def rotate(self, purpose: KeyPurpose, now: datetime | None = None) -> Key:
        """Add the next version of a purpose's key; it becomes the key for new data at once.

        Older versions stay active so data already protected still verifies and decrypts; retire them
        once nothing needs them.
        """
        versions = [k.version for k in self._keys.values() if k.purpose is purpose]
        key = Key.new(purpose, max(versions, default=0) + 1, now)
        self._keys[key.key_id] = key
        self._current.clear()
        return key

    def retire(self, key_id: str) -> Key:
        """Mark a key retired: from now on everything protected with it is refused.

        Refuses to retire the last active key of a purpose, because new data would have no key; rotate
        first.
        """
        key = self.describe(key_id)
        if not key.active:
            return key
        others = [k for k in self._keys.values() if k.purpose is key.purpose and k.active and k is not key]
        if not others:
            raise NoActiveKeyError(
                f"key {key.key_id} is the only active {key.purpose.value} key; rotate first with: "
                f"phi-pipeline keys rotate --path <keyring> --purpose {key.purpose.value}"
            )
        retired = Key(key.key_id, key.purpose, key.version, KeyStatus.RETIRED, key.created, key.material)
        self._keys[key_id] = retired
        self._current.clear()
        return retired


def read_keyring_file(path: str | os.PathLike[str], *, require_private: bool) -> tuple[bytes, int]:
    """The bytes of a keyring file and its mode; a regular file only (a symlink to one is fine).

    ``require_private``: refuse a file that group or others can read or write (a plain keyring holds
    keys in clear). A wrapped keyring (:mod:`pipeline.core.crypto.custody`) holds none and may be
    mounted as an ordinary Kubernetes Secret, so its reader passes ``False``.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise KeyringFileError(
            f"keyring file {p} does not exist; create one with: phi-pipeline keys init --path {p}"
        ) from None
    except OSError as exc:
        raise KeyringFileError(f"cannot open keyring file {p}: {exc.strerror}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise KeyringPermissionError(
                f"keyring path {p} is not a regular file; point the keyring setting at the JSON file itself"
            )
        mode = stat.S_IMODE(st.st_mode)
        if require_private and mode & 0o077:
            raise KeyringPermissionError(
                f"keyring file {p} has mode {mode:04o}, readable or writable by group or others; "
                f"refusing to load it. Run: chmod 600 {p}"
            )
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            return fh.read(), mode
    finally:
        if fd >= 0:
            os.close(fd)


def write_private_file(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` atomically with mode 0600: a crash leaves the old file or the new, never half.

    The temporary file is created 0600 in the same directory, fsynced, then renamed over ``path``.
    """
    p = Path(path)
    directory = p.parent if str(p.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    try:
        dfd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


def _key_from_dict(index: int, entry: object) -> Key:
    where = f"keyring entry {index}"
    if not isinstance(entry, Mapping):
        raise KeyringFileError(f"{where} must be a JSON object")
    missing = [f for f in ("key_id", "purpose", "version", "status", "created", "material") if f not in entry]
    if missing:
        raise KeyringFileError(f"{where} lacks field(s): {', '.join(missing)}")
    try:
        purpose = KeyPurpose(entry["purpose"])
    except ValueError:
        choices = ", ".join(p.value for p in KeyPurpose)
        raise KeyringFileError(f"{where} has an unknown purpose; expected one of: {choices}") from None
    try:
        status = KeyStatus(entry["status"])
    except ValueError:
        raise KeyringFileError(f"{where} has an unknown status; expected active or retired") from None
    version = entry["version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise KeyringFileError(f"{where} version must be a positive integer")
    try:
        created = datetime.fromisoformat(str(entry["created"]).replace("Z", "+00:00"))
    except ValueError:
        raise KeyringFileError(f"{where} created must be an ISO 8601 time such as 2025-01-31T12:00:00Z") from None
    if created.tzinfo is None:
        created = created.replace(tzinfo=UTC)
    material_text = entry["material"]
    if not isinstance(material_text, str):
        raise KeyringFileError(f"{where} material must be a base64 string")
    try:
        material = base64.b64decode(material_text, validate=True)
    except binascii.Error:
        raise KeyringFileError(f"{where} material is not valid base64") from None
    key_id = entry["key_id"]
    if not is_key_id(key_id):
        raise KeyringFileError(f"{where} key_id must look like <purpose>-v<version>, for example token-v1")
    return Key(key_id, purpose, version, status, created, material)
