"""``phi-pipeline keys``: init, rotate, retire, list through argparse, never printing key material."""

from __future__ import annotations

import argparse
import base64
import stat

import pytest

from pipeline.core.crypto.keyring import KeyPurpose, Keyring, KeyStatus
from pipeline.interfaces.keys_commands import register


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="phi-pipeline")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def assert_no_material(text: str, keyring: Keyring) -> None:
    for key in keyring:
        assert base64.b64encode(key.material).decode() not in text and key.material.hex() not in text


def test_init_list_rotate_retire(tmp_path, capsys):
    path = tmp_path / "keyring.json"
    assert run("keys", "init", "--path", str(path)) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    keyring = Keyring.load(path)
    assert len(keyring) == len(KeyPurpose)

    assert run("keys", "rotate", "--path", str(path), "--purpose", "token") == 0
    keyring = Keyring.load(path)
    assert keyring.current(KeyPurpose.TOKEN).key_id == "token-v2"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    assert run("keys", "retire", "--path", str(path), "--key-id", "token-v1") == 0
    keyring = Keyring.load(path)
    assert keyring.describe("token-v1").status is KeyStatus.RETIRED

    assert run("keys", "list", "--path", str(path)) == 0
    out = capsys.readouterr().out
    assert "token-v2" in out and "retired" in out and "audit-v1" in out
    assert_no_material(out, keyring)


def test_init_refuses_to_overwrite_without_force(tmp_path, capsys):
    path = tmp_path / "keyring.json"
    assert run("keys", "init", "--path", str(path)) == 0
    before = Keyring.load(path)
    assert run("keys", "init", "--path", str(path)) == 1
    assert "--force" in capsys.readouterr().err
    assert Keyring.load(path).current(KeyPurpose.AUDIT) == before.current(KeyPurpose.AUDIT)
    assert run("keys", "init", "--path", str(path), "--force") == 0
    assert Keyring.load(path).current(KeyPurpose.AUDIT) != before.current(KeyPurpose.AUDIT)


def test_errors_are_exit_code_1_with_message(tmp_path, capsys):
    path = tmp_path / "keyring.json"
    assert run("keys", "list", "--path", str(path)) == 1
    assert "keys init" in capsys.readouterr().err
    run("keys", "init", "--path", str(path))
    path.chmod(0o644)
    assert run("keys", "rotate", "--path", str(path), "--purpose", "audit") == 1
    assert f"chmod 600 {path}" in capsys.readouterr().err
    path.chmod(0o600)
    assert run("keys", "retire", "--path", str(path), "--key-id", "audit-v1") == 1
    assert "rotate first" in capsys.readouterr().err
    assert run("keys", "retire", "--path", str(path), "--key-id", "audit-v9") == 1
    assert "not in the keyring" in capsys.readouterr().err


def test_unknown_purpose_is_an_argparse_error(tmp_path):
    with pytest.raises(SystemExit):
        run("keys", "rotate", "--path", str(tmp_path / "k"), "--purpose", "nope")
