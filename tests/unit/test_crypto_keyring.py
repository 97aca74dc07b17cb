"""Keyring: generation, rotation, retirement, lookup, file permissions, env form, no material leaks."""

from __future__ import annotations

import base64
import json
import os
import stat

import pytest

from pipeline.core.crypto.keyring import (
    ENV_VAR,
    KEY_SIZES,
    Key,
    KeyPurpose,
    Keyring,
    KeyringFileError,
    KeyringPermissionError,
    KeyStatus,
    NoActiveKeyError,
    RetiredKeyError,
    UnknownKeyError,
    WrongKeyPurposeError,
    parse_key_id,
)
from pipeline.core.errors import PipelineError


def material_forms(keyring: Keyring) -> list[str]:
    """Every way a key's material could show up in text."""
    forms = []
    for key in keyring:
        forms += [base64.b64encode(key.material).decode(), key.material.hex(), repr(key.material)]
        forms.append(base64.urlsafe_b64encode(key.material).decode().rstrip("="))
    return forms


def assert_no_material(text: str, keyring: Keyring) -> None:
    for form in material_forms(keyring):
        assert form not in text


def test_generate_has_every_purpose_with_its_size():
    keyring = Keyring.generate()
    assert {k.purpose for k in keyring} == set(KeyPurpose)
    for key in keyring:
        assert key.key_id == f"{key.purpose.value}-v1"
        assert len(key.material) == KEY_SIZES[key.purpose]
        assert key.status is KeyStatus.ACTIVE
    assert len(keyring.current(KeyPurpose.TOKEN).material) == 64
    assert len(keyring.current(KeyPurpose.ENCRYPTION).material) == 32
    assert len({k.material for k in keyring}) == len(keyring), "keys must be independent"


def test_rotate_makes_new_version_current_and_keeps_old_usable():
    keyring = Keyring.generate()
    new = keyring.rotate(KeyPurpose.TOKEN)
    assert new.key_id == "token-v2"
    assert keyring.current(KeyPurpose.TOKEN) is new
    assert keyring.get("token-v1").active
    assert keyring.rotate(KeyPurpose.TOKEN).key_id == "token-v3"
    assert keyring.current(KeyPurpose.INGEST_HMAC).key_id == "ingest-hmac-v1"


def test_retire_refuses_lookup_with_clear_message():
    keyring = Keyring.generate()
    keyring.rotate(KeyPurpose.ENCRYPTION)
    retired = keyring.retire("encryption-v1")
    assert retired.status is KeyStatus.RETIRED
    with pytest.raises(RetiredKeyError, match="encryption-v1 is retired") as info:
        keyring.get("encryption-v1")
    assert info.value.reason == "retired-key"
    assert keyring.current(KeyPurpose.ENCRYPTION).key_id == "encryption-v2"
    assert keyring.describe("encryption-v1").status is KeyStatus.RETIRED


def test_retire_refuses_last_active_key_of_purpose():
    keyring = Keyring.generate()
    with pytest.raises(NoActiveKeyError, match="rotate first"):
        keyring.retire("audit-v1")
    assert keyring.get("audit-v1").active


def test_rotation_after_retirement_never_reuses_a_version():
    keyring = Keyring.generate()
    keyring.rotate(KeyPurpose.AUDIT)
    keyring.retire("audit-v2")
    assert keyring.rotate(KeyPurpose.AUDIT).key_id == "audit-v3"


def test_unknown_and_malformed_ids():
    keyring = Keyring.generate()
    with pytest.raises(UnknownKeyError, match="token-v7") as info:
        keyring.get("token-v7")
    assert info.value.key_id == "token-v7"
    # Attacker-controlled junk is never echoed into the message.
    with pytest.raises(UnknownKeyError) as info:
        keyring.get("John Smith 123-45-6789")
    assert "John" not in str(info.value) and info.value.key_id is None
    with pytest.raises(UnknownKeyError):
        parse_key_id("token-v0")
    assert parse_key_id("egress-hmac-v12") == (KeyPurpose.EGRESS_HMAC, 12)


def test_purpose_check():
    keyring = Keyring.generate()
    with pytest.raises(WrongKeyPurposeError, match="audit key"):
        keyring.get("audit-v1", KeyPurpose.INGEST_HMAC)
    assert keyring.get("audit-v1", KeyPurpose.AUDIT).key_id == "audit-v1"


def test_errors_derive_from_pipeline_error():
    for cls in (KeyringFileError, KeyringPermissionError, UnknownKeyError, RetiredKeyError, NoActiveKeyError):
        assert issubclass(cls, PipelineError)


def test_save_load_round_trip_with_mode_0600(tmp_path):
    keyring = Keyring.generate()
    keyring.rotate(KeyPurpose.TOKEN)
    keyring.retire("token-v1")
    path = tmp_path / "keyring.json"
    keyring.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = Keyring.load(path)
    assert [k.describe() for k in loaded] == [k.describe() for k in keyring]
    assert all(a == b for a, b in zip(loaded, keyring, strict=True))
    assert [p.name for p in tmp_path.iterdir()] == ["keyring.json"], "no temporary file left behind"


def test_save_replaces_a_readable_file_with_a_private_one(tmp_path):
    path = tmp_path / "keyring.json"
    path.write_text("old")
    path.chmod(0o644)
    Keyring.generate().save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Keyring.load(path)


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_load_refuses_group_or_world_access(tmp_path, mode):
    path = tmp_path / "keyring.json"
    keyring = Keyring.generate()
    keyring.save(path)
    path.chmod(mode)
    with pytest.raises(KeyringPermissionError) as info:
        Keyring.load(path)
    message = str(info.value)
    assert f"chmod 600 {path}" in message and f"{mode:04o}" in message
    assert_no_material(message, keyring)


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_load_accepts_owner_only(tmp_path, mode):
    path = tmp_path / "keyring.json"
    Keyring.generate().save(path)
    path.chmod(mode)
    assert len(Keyring.load(path)) == len(KeyPurpose)


def test_load_follows_symlink_to_private_file(tmp_path):
    # Kubernetes mounts Secrets as symlinks into a ..data directory.
    target = tmp_path / "real.json"
    Keyring.generate().save(target)
    link = tmp_path / "keyring.json"
    link.symlink_to(target)
    assert len(Keyring.load(link)) == len(KeyPurpose)


def test_load_refuses_directory_and_fifo(tmp_path):
    with pytest.raises(KeyringPermissionError, match="not a regular file"):
        Keyring.load(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o600)
    with pytest.raises(KeyringPermissionError, match="not a regular file"):
        Keyring.load(fifo)


def test_load_missing_file_says_how_to_create(tmp_path):
    with pytest.raises(KeyringFileError, match="keys init --path"):
        Keyring.load(tmp_path / "nope.json")


def test_env_forms_plain_and_base64():
    keyring = Keyring.generate()
    plain = Keyring.from_env(environ={ENV_VAR: keyring.to_json()})
    encoded = Keyring.from_env(environ={ENV_VAR: keyring.to_env_value()})
    for other in (plain, encoded):
        assert all(a == b for a, b in zip(other, keyring, strict=True))
    with pytest.raises(KeyringFileError, match=ENV_VAR):
        Keyring.from_env(environ={})
    with pytest.raises(KeyringFileError, match="neither keyring JSON nor base64"):
        Keyring.from_env(environ={ENV_VAR: "***"})


def test_env_reads_process_environment(monkeypatch):
    keyring = Keyring.generate()
    monkeypatch.setenv(ENV_VAR, keyring.to_env_value())
    assert Keyring.from_env().current(KeyPurpose.AUDIT) == keyring.current(KeyPurpose.AUDIT)


def test_reprs_never_show_material():
    keyring = Keyring.generate()
    keyring.rotate(KeyPurpose.TOKEN)
    texts = [repr(keyring), str(keyring)] + [repr(k) for k in keyring] + [str(k) for k in keyring]
    texts += [json.dumps(k.describe()) for k in keyring]
    for text in texts:
        assert_no_material(text, keyring)
    assert "hidden" in repr(keyring.current(KeyPurpose.TOKEN))


def _doc(keyring: Keyring) -> dict:
    return json.loads(keyring.to_json())


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda d: d["keys"][0].update(material=base64.b64encode(b"x" * 31).decode()), "bytes of material"),
        (lambda d: d["keys"][0].update(material="!!notbase64!!"), "not valid base64"),
        (lambda d: d["keys"][0].update(purpose="bogus"), "unknown purpose"),
        (lambda d: d["keys"][0].update(status="paused"), "unknown status"),
        (lambda d: d["keys"][0].update(version=0), "positive integer"),
        (lambda d: d["keys"][0].update(key_id="token-v9"), "does not match"),
        (lambda d: d["keys"][0].update(created="yesterday"), "ISO 8601"),
        (lambda d: d["keys"][0].pop("material"), "lacks field"),
        (lambda d: d["keys"].append(dict(d["keys"][0])), "appears twice"),
        (lambda d: d.update(format="other"), "not a keyring"),
        (lambda d: d.update(format_version=2), "format_version"),
    ],
)
def test_invalid_files_rejected_without_leaking_material(mutate, match):
    keyring = Keyring.generate()
    doc = _doc(keyring)
    mutate(doc)
    with pytest.raises(KeyringFileError, match=match) as info:
        Keyring.from_json(json.dumps(doc))
    assert_no_material(str(info.value), keyring)


def test_broken_json_error_has_no_document():
    keyring = Keyring.generate()
    text = keyring.to_json()[:-5]
    with pytest.raises(KeyringFileError) as info:
        Keyring.from_json(text)
    assert_no_material(str(info.value), keyring)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_key_equality_and_hash_use_id_and_material():
    keyring = Keyring.generate()
    key = keyring.current(KeyPurpose.AUDIT)
    clone = Key(key.key_id, key.purpose, key.version, key.status, key.created, bytes(key.material))
    assert clone == key and hash(clone) == hash(key)
    other = Key.new(KeyPurpose.AUDIT, 1)
    assert other != key
