"""Key custody: the keyring on disk holds only data keys wrapped by a KMS; clear keys live in memory only.

Why: a keyring file that holds keys in clear is a single file whose theft exposes every token and
ciphertext. Here each data key (tokenization, envelope, HMAC, audit signing, dead-letter, pseudonym)
is stored *wrapped* (encrypted) by a key-encryption key (KEK) that never leaves the KMS (OpenBao's
transit engine). A workload unwraps, at start, only the purposes its KMS policy allows
(:data:`WORKLOAD_PURPOSES`), so the file is safe to store as an ordinary Kubernetes Secret and a
stolen copy is useless without the KMS.

One transit key per purpose, named ``<prefix>-<purpose>`` (``phi-token``, ``phi-audit``...): a KMS
policy grants a workload ``decrypt`` on exactly the purposes it needs. The transit keys are *derived*
keys and every wrap binds the key id as its context, so a wrapped blob copied onto another entry of
the file does not unwrap.

File format (UTF-8 JSON)::

    {
      "format": "phi-pipeline-keyring-wrapped",
      "format_version": 1,
      "kms": {"type": "openbao-transit", "mount": "transit", "key_prefix": "phi"},
      "keys": [
        {"key_id": "token-v1", "purpose": "token", "version": 1, "status": "active",
         "created": "2025-01-31T12:00:00Z", "kek": "phi-token", "wrapped": "vault:v1:..."}
      ]
    }

Lifecycle without downtime:

- new data key (``keys rotate --purpose P``): a fresh key is made here, wrapped with ``encrypt`` (the
  administrator's policy can wrap but never unwrap) and appended; workers pick it up at restart;
- KEK rotation (``keys rotate-kek``): the transit key gets a new version and every entry is *rewrapped*
  inside the KMS (the clear key never leaves it); old wrapped copies still unwrap until the KEK's
  minimum decryption version is raised, so workers holding the old file keep starting;
- retirement: as with the plain keyring, a status in the file.

The plain file keyring (:class:`~pipeline.core.crypto.keyring.Keyring` on disk) stays for the embedded
demo; the worker names it as such in its log.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from pipeline.core.crypto.keyring import (
    FORMAT_NAME as PLAIN_FORMAT_NAME,
)
from pipeline.core.crypto.keyring import (
    KEY_SIZES,
    Key,
    KeyPurpose,
    Keyring,
    KeyringError,
    KeyringFileError,
    KeyringPermissionError,
    KeyStatus,
    _key_from_dict,
    describe_key,
    is_key_id,
    read_keyring_file,
    write_private_file,
)
from pipeline.core.errors import PipelineError

WRAPPED_FORMAT_NAME = "phi-pipeline-keyring-wrapped"
WRAPPED_FORMAT_VERSION = 1
KMS_TYPE = "openbao-transit"
DEFAULT_KEY_PREFIX = "phi"
DEFAULT_TRANSIT_MOUNT = "transit"


class Workload:
    """Names of the workloads that hold keys, each with a KMS policy of its own."""

    WORKER = "worker"
    REVEAL = "reveal"
    OPERATOR = "operator"  # audit verify, dead-letter replay
    PRODUCER = "producer"  # signs inputs


#: What each workload may unwrap. The reveal service is the only one besides the worker that unwraps the
#: token and encryption keys, and it never gets the ingest, dead-letter or pseudonym keys.
WORKLOAD_PURPOSES: dict[str, frozenset[KeyPurpose]] = {
    Workload.WORKER: frozenset(KeyPurpose),
    Workload.REVEAL: frozenset({KeyPurpose.TOKEN, KeyPurpose.ENCRYPTION, KeyPurpose.AUDIT, KeyPurpose.EGRESS_HMAC}),
    Workload.OPERATOR: frozenset({KeyPurpose.AUDIT, KeyPurpose.EGRESS_HMAC, KeyPurpose.DEADLETTER}),
    Workload.PRODUCER: frozenset({KeyPurpose.INGEST_HMAC}),
}


class KmsError(PipelineError):
    """The KMS refused or failed an operation. Subclasses say which; messages never hold key material."""

    reason = "kms"


class KmsUnavailableError(KmsError):
    """The KMS did not answer (down, sealed, wrong address, TLS failure)."""

    reason = "kms-unavailable"


class KmsSealedError(KmsUnavailableError):
    """The KMS answered that it is sealed: an operator's emergency stop, obeyed at once (no grace)."""

    reason = "kms-sealed"


class KmsAuthError(KmsError):
    """This workload could not log in to the KMS (AppRole or Kubernetes credentials refused)."""

    reason = "kms-auth"


class KmsPermissionError(KmsError):
    """The KMS denied an operation: the workload's policy does not (or no longer does) allow it."""

    reason = "kms-denied"


class KmsWrappedKeyError(KmsError):
    """The KMS could not unwrap an entry: altered, moved to another key id, or under a KEK version
    below the transit key's minimum decryption version."""

    reason = "kms-invalid-wrapped-key"


class KeyWrapper(Protocol):
    """A KMS's view of key wrapping: each call handles a batch of ``(key_id, payload)`` under one KEK.

    The key id is bound as context, so a wrapped key only unwraps under its own id.
    """

    def wrap(self, kek: str, items: Sequence[tuple[str, bytes]]) -> list[str]: ...

    def unwrap(self, kek: str, items: Sequence[tuple[str, str]]) -> list[bytes]: ...

    def rewrap(self, kek: str, items: Sequence[tuple[str, str]]) -> list[str]: ...

    def rotate(self, kek: str) -> int: ...


def kek_name(purpose: KeyPurpose, prefix: str = DEFAULT_KEY_PREFIX) -> str:
    """The transit key that wraps a purpose's data keys."""
    return f"{prefix}-{purpose.value}"


@dataclass(frozen=True)
class WrappedKey:
    """One data key as stored: everything but the material, plus the material wrapped by ``kek``."""

    key_id: str
    purpose: KeyPurpose
    version: int
    status: KeyStatus
    created: datetime
    kek: str
    wrapped: str = field(repr=False)

    def describe(self) -> dict[str, object]:
        return {**describe_key(self), "kek": self.kek, "kek_version": kek_version(self.wrapped)}

    def to_dict(self) -> dict[str, object]:
        return {**{k: v for k, v in self.describe().items() if k != "kek_version"}, "wrapped": self.wrapped}


def kek_version(wrapped: str) -> int | None:
    """The transit key version a wrapped value names (``vault:v3:...`` is 3), or None."""
    parts = wrapped.split(":", 2)
    if len(parts) == 3 and parts[1].startswith("v") and parts[1][1:].isdigit():
        return int(parts[1][1:])
    return None


@dataclass(frozen=True)
class WrappedKeyring:
    """The wrapped keyring file: key descriptions and wrapped material, never a key in clear."""

    keys: tuple[WrappedKey, ...]
    mount: str = DEFAULT_TRANSIT_MOUNT
    key_prefix: str = DEFAULT_KEY_PREFIX

    def __post_init__(self) -> None:
        ids = [k.key_id for k in self.keys]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise KeyringFileError(f"key(s) {', '.join(duplicates)} appear twice in the wrapped keyring")

    def __iter__(self) -> Iterator[WrappedKey]:
        return iter(sorted(self.keys, key=lambda k: (k.purpose.value, k.version)))

    def __len__(self) -> int:
        return len(self.keys)

    # ---- file form --------------------------------------------------------------------------------

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> WrappedKeyring:
        if data.get("format") != WRAPPED_FORMAT_NAME:
            raise KeyringFileError(f'not a wrapped keyring: expected "format": "{WRAPPED_FORMAT_NAME}"')
        if data.get("format_version") != WRAPPED_FORMAT_VERSION:
            raise KeyringFileError(
                f"unsupported wrapped keyring format_version; this build reads version {WRAPPED_FORMAT_VERSION}"
            )
        kms = data.get("kms")
        if not isinstance(kms, Mapping) or kms.get("type") != KMS_TYPE:
            raise KeyringFileError(f'wrapped keyring "kms" must be an object with "type": "{KMS_TYPE}"')
        mount, prefix = kms.get("mount", DEFAULT_TRANSIT_MOUNT), kms.get("key_prefix", DEFAULT_KEY_PREFIX)
        if not isinstance(mount, str) or not mount or not isinstance(prefix, str) or not prefix:
            raise KeyringFileError('wrapped keyring "kms" needs non-empty "mount" and "key_prefix" strings')
        raw = data.get("keys")
        if not isinstance(raw, list):
            raise KeyringFileError('wrapped keyring "keys" must be a list')
        return cls(tuple(_wrapped_from_dict(i, e) for i, e in enumerate(raw)), mount, prefix)

    def to_dict(self) -> dict[str, object]:
        return {
            "format": WRAPPED_FORMAT_NAME,
            "format_version": WRAPPED_FORMAT_VERSION,
            "kms": {"type": KMS_TYPE, "mount": self.mount, "key_prefix": self.key_prefix},
            "keys": [k.to_dict() for k in self],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | os.PathLike[str]) -> None:
        """Atomic write, mode 0600 (it holds no key in clear, but there is no reason to share it)."""
        write_private_file(path, self.to_json().encode("utf-8"))

    # ---- lifecycle --------------------------------------------------------------------------------

    def of(self, purpose: KeyPurpose) -> list[WrappedKey]:
        return [k for k in self if k.purpose is purpose]

    def with_new_key(
        self, purpose: KeyPurpose, wrapper: KeyWrapper, now: datetime | None = None
    ) -> tuple[WrappedKeyring, WrappedKey]:
        """A fresh data key for ``purpose``, wrapped by the KMS (``encrypt`` only): the clear key exists in
        this process for the one call and is never written."""
        version = max((k.version for k in self.of(purpose)), default=0) + 1
        key = Key.new(purpose, version, now)
        kek = kek_name(purpose, self.key_prefix)
        [wrapped] = wrapper.wrap(kek, [(key.key_id, key.material)])
        entry = WrappedKey(key.key_id, purpose, version, KeyStatus.ACTIVE, key.created, kek, wrapped)
        return replace(self, keys=(*self.keys, entry)), entry

    def retired(self, key_id: str) -> WrappedKeyring:
        """The same keyring with ``key_id`` retired (refused everywhere once workers restart)."""
        target = next((k for k in self.keys if k.key_id == key_id), None)
        if target is None:
            raise KeyringFileError(f"key {key_id if is_key_id(key_id) else '(malformed id)'} is not in the keyring")
        others = [
            k for k in self.keys if k.purpose is target.purpose and k.status is KeyStatus.ACTIVE and k is not target
        ]
        if target.status is KeyStatus.ACTIVE and not others:
            raise KeyringFileError(
                f"key {key_id} is the only active {target.purpose.value} key; rotate first with: "
                f"phi-pipeline keys rotate --path <keyring> --purpose {target.purpose.value}"
            )
        keys = tuple(replace(k, status=KeyStatus.RETIRED) if k is target else k for k in self.keys)
        return replace(self, keys=keys)

    def rewrapped(self, wrapper: KeyWrapper, purposes: Iterable[KeyPurpose] = tuple(KeyPurpose)) -> WrappedKeyring:
        """Every entry of ``purposes`` rewrapped under its KEK's newest version, inside the KMS."""
        updated: dict[str, WrappedKey] = {}
        for purpose in purposes:
            entries = self.of(purpose)
            by_kek: dict[str, list[WrappedKey]] = {}
            for entry in entries:
                by_kek.setdefault(entry.kek, []).append(entry)
            for kek, group in by_kek.items():
                fresh = wrapper.rewrap(kek, [(e.key_id, e.wrapped) for e in group])
                updated.update({e.key_id: replace(e, wrapped=w) for e, w in zip(group, fresh, strict=True)})
        return replace(self, keys=tuple(updated.get(k.key_id, k) for k in self.keys))

    def unwrap(self, wrapper: KeyWrapper, purposes: Iterable[KeyPurpose]) -> Keyring:
        """The in-memory :class:`Keyring` of ``purposes``: one batch call per KEK."""
        keys: list[Key] = []
        for purpose in sorted(set(purposes), key=lambda p: p.value):
            entries = self.of(purpose)
            if not entries:
                raise KeyringFileError(
                    f"the wrapped keyring has no {purpose.value} key; add one with: "
                    f"phi-pipeline keys rotate --path <keyring> --purpose {purpose.value}"
                )
            by_kek: dict[str, list[WrappedKey]] = {}
            for entry in entries:
                by_kek.setdefault(entry.kek, []).append(entry)
            for kek, group in by_kek.items():
                materials = wrapper.unwrap(kek, [(e.key_id, e.wrapped) for e in group])
                for entry, material in zip(group, materials, strict=True):
                    keys.append(Key(entry.key_id, entry.purpose, entry.version, entry.status, entry.created, material))
        return Keyring(keys)


def wrap_keyring(
    keyring: Keyring,
    wrapper: KeyWrapper,
    *,
    mount: str = DEFAULT_TRANSIT_MOUNT,
    key_prefix: str = DEFAULT_KEY_PREFIX,
) -> WrappedKeyring:
    """Wrap every key of a plain keyring (migration from the file keyring): one batch call per purpose."""
    entries: list[WrappedKey] = []
    for purpose in KeyPurpose:
        keys = keyring.keys(purpose)
        if not keys:
            continue
        kek = kek_name(purpose, key_prefix)
        wrapped = wrapper.wrap(kek, [(k.key_id, k.material) for k in keys])
        entries.extend(
            WrappedKey(k.key_id, k.purpose, k.version, k.status, k.created, kek, w)
            for k, w in zip(keys, wrapped, strict=True)
        )
    return WrappedKeyring(tuple(entries), mount, key_prefix)


def verify_custody(wrapped: WrappedKeyring, keyring: Keyring, wrapper: KeyWrapper) -> None:
    """Unwrap the current key of each purpose held in memory again and compare: raises
    :class:`KmsPermissionError` (policy revoked), :class:`KmsError`, or :class:`KeyringError` if the file
    and memory disagree. A worker runs this periodically so that revoking its policy stops it."""
    held = {k.purpose for k in keyring}
    probes = [max(wrapped.of(p), key=lambda k: k.version) for p in sorted(held, key=lambda p: p.value)]
    for probe in probes:
        [material] = wrapper.unwrap(probe.kek, [(probe.key_id, probe.wrapped)])
        if material != keyring.describe(probe.key_id).material:
            raise KeyringError(f"key {probe.key_id} unwrapped to other material than the worker holds")


def parse_keyring_document(raw: bytes | str) -> Mapping[str, object]:
    """The JSON object of a keyring file (either form); the error never quotes the content."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise KeyringFileError(f"keyring is not valid UTF-8 JSON ({type(exc).__name__})") from None
    if not isinstance(data, Mapping):
        raise KeyringFileError("keyring must be a JSON object")
    return data


def is_wrapped(document: Mapping[str, object]) -> bool:
    return document.get("format") == WRAPPED_FORMAT_NAME


def load_keyring_document(path: str | os.PathLike[str]) -> Keyring | WrappedKeyring:
    """Read a keyring file of either form: a plain keyring must be private (0600), a wrapped one need not."""
    raw, mode = read_keyring_file(path, require_private=False)
    document = parse_keyring_document(raw)
    if is_wrapped(document):
        return WrappedKeyring.from_dict(document)
    if document.get("format") == PLAIN_FORMAT_NAME and mode & 0o077:
        raise KeyringPermissionError(
            f"keyring file {path} holds keys in clear and has mode {mode:04o}, readable or writable by group "
            f"or others; refusing to load it. Run: chmod 600 {path} (or wrap it: phi-pipeline keys wrap)"
        )
    return Keyring.from_dict(document)


def _wrapped_from_dict(index: int, entry: object) -> WrappedKey:
    where = f"wrapped keyring entry {index}"
    if not isinstance(entry, Mapping):
        raise KeyringFileError(f"{where} must be a JSON object")
    if "material" in entry:
        raise KeyringFileError(f"{where} holds clear key material; a wrapped keyring must never carry it")
    missing = [f for f in ("key_id", "purpose", "version", "status", "created", "kek", "wrapped") if f not in entry]
    if missing:
        raise KeyringFileError(f"{where} lacks field(s): {', '.join(missing)}")
    # The plain keyring's validation for the shared fields (a dummy material of the right size).
    try:
        purpose = KeyPurpose(entry["purpose"])
    except ValueError:
        raise KeyringFileError(f"{where} has an unknown purpose") from None
    probe = _key_from_dict(index, {**entry, "material": base64.b64encode(bytes(KEY_SIZES[purpose])).decode()})
    kek, wrapped = entry["kek"], entry["wrapped"]
    if not isinstance(kek, str) or not kek or not isinstance(wrapped, str) or kek_version(wrapped) is None:
        raise KeyringFileError(f'{where}: "kek" must name a transit key and "wrapped" be a vault:v<n>:... value')
    return WrappedKey(probe.key_id, probe.purpose, probe.version, probe.status, probe.created, kek, wrapped)
