"""The wrapped keyring file, the per-workload OpenBao policies, and the ``keys`` commands on a wrapped
keyring against a real OpenBao dev server (skipped, with the reason, where the ``bao`` binary is absent)."""

from __future__ import annotations

import json
import os
import re
import subprocess

import pytest

from pipeline.config import Settings, settings_to_env
from pipeline.core.crypto.custody import (
    WORKLOAD_PURPOSES,
    KmsWrappedKeyError,
    WrappedKeyring,
    kek_version,
    load_keyring_document,
)
from pipeline.core.crypto.keyring import KeyPurpose, Keyring, KeyringFileError, KeyringPermissionError
from pipeline.interfaces.cli import main as cli_main
from pipeline.runtime.openbao import OpenBaoConfig, OpenBaoTransit, workload_policy

ENTRY = {
    "key_id": "token-v1",
    "purpose": "token",
    "version": 1,
    "status": "active",
    "created": "2026-01-01T00:00:00Z",
    "kek": "phi-token",
    "wrapped": "vault:v1:abcd",
}
DOC = {
    "format": "phi-pipeline-keyring-wrapped",
    "format_version": 1,
    "kms": {"type": "openbao-transit"},
    "keys": [ENTRY],
}


def test_wrapped_file_parses_and_refuses_clear_material_and_bad_entries():
    wrapped = WrappedKeyring.from_dict(DOC)
    assert [k.key_id for k in wrapped] == ["token-v1"] and kek_version(ENTRY["wrapped"]) == 1
    assert "vault:v1:abcd" not in repr(wrapped)
    for bad, match in [
        ({**ENTRY, "material": "AAAA"}, "clear key material"),
        ({**ENTRY, "wrapped": "AAAA"}, "vault:v<n>"),
        ({k: v for k, v in ENTRY.items() if k != "kek"}, "lacks"),
        ({**ENTRY, "key_id": "token-v2"}, "does not match"),
    ]:
        with pytest.raises(KeyringFileError, match=match):
            WrappedKeyring.from_dict({**DOC, "keys": [bad]})
    with pytest.raises(KeyringFileError, match="twice"):
        WrappedKeyring.from_dict({**DOC, "keys": [ENTRY, ENTRY]})
    with pytest.raises(KeyringFileError, match="only active"):
        wrapped.retired("token-v1")


def test_plain_keyring_must_be_private_wrapped_need_not(tmp_path):
    plain, wrapped = tmp_path / "plain.json", tmp_path / "wrapped.json"
    Keyring.generate().save(plain)
    wrapped.write_text(json.dumps(DOC))
    os.chmod(plain, 0o644)
    os.chmod(wrapped, 0o644)  # a Kubernetes Secret mount's default
    with pytest.raises(KeyringPermissionError, match="keys wrap"):
        load_keyring_document(plain)
    assert isinstance(load_keyring_document(wrapped), WrappedKeyring)
    os.chmod(plain, 0o600)
    assert isinstance(load_keyring_document(plain), Keyring)


def test_workload_policies_grant_decrypt_only_on_their_purposes():
    for workload, purposes in WORKLOAD_PURPOSES.items():
        granted = set(re.findall(r'path "transit/decrypt/phi-([a-z-]+)"', workload_policy(workload)))
        assert granted == {p.value for p in purposes}, workload
        assert "transit/encrypt/" not in workload_policy(workload)
    assert "/decrypt/" not in workload_policy("admin") and "transit/encrypt/phi-token" in workload_policy("admin")
    reveal = WORKLOAD_PURPOSES["reveal"]
    assert KeyPurpose.INGEST_HMAC not in reveal and KeyPurpose.DEADLETTER not in reveal
    assert KeyPurpose.PSEUDONYM not in reveal


def test_keys_commands_on_a_wrapped_keyring(openbao, tmp_path, monkeypatch, capsys):
    """init --wrapped, list, rotate, retire and rotate-kek through the command line (in this process, for
    speed: the same ``main`` the console script runs); never a clear key."""
    settings = Settings.from_env({}, openbao_addr=openbao.addr, openbao_auth="token", openbao_token=openbao.root_token)
    for name in [k for k in os.environ if k.startswith("PHI_")]:
        monkeypatch.delenv(name)
    for name, value in settings_to_env(settings).items():
        monkeypatch.setenv(name, value)

    def run_cli(_settings, *args):
        status = cli_main(list(args))
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, status, out.out, out.err)

    path = tmp_path / "keyring.json"
    setup = run_cli(settings, "keys", "openbao-setup")
    assert setup.returncode == 0, setup.stderr
    init = run_cli(settings, "keys", "init", "--wrapped", "--path", str(path))
    assert init.returncode == 0, init.stderr
    assert "none in clear" in init.stdout and '"material"' not in path.read_text()
    rotated = run_cli(settings, "keys", "rotate", "--path", str(path), "--purpose", "token")
    assert rotated.returncode == 0 and "token-v2" in rotated.stdout, rotated.stderr
    retired = run_cli(settings, "keys", "retire", "--path", str(path), "--key-id", "token-v1")
    assert retired.returncode == 0, retired.stderr
    kek = run_cli(settings, "keys", "rotate-kek", "--path", str(path), "--purpose", "token")
    assert kek.returncode == 0 and "rotated phi-token to v2" in kek.stdout, kek.stderr
    # After a suspected leak of the file: rotate again and retire the older KEK versions; an old copy is dead.
    old_copy = load_keyring_document(path)
    leak = run_cli(settings, "keys", "rotate-kek", "--path", str(path), "--purpose", "token", "--retire-old-versions")
    assert leak.returncode == 0 and "rotated phi-token to v3" in leak.stdout, leak.stderr
    root = OpenBaoTransit(OpenBaoConfig(openbao.addr, auth="token", token=openbao.root_token))
    with pytest.raises(KmsWrappedKeyError):
        old_copy.unwrap(root, {KeyPurpose.TOKEN})
    assert load_keyring_document(path).unwrap(root, {KeyPurpose.TOKEN}).current(KeyPurpose.TOKEN).key_id == "token-v2"
    listing = run_cli(settings, "keys", "list", "--path", str(path))
    assert "wrapped by OpenBao transit" in listing.stdout
    assert re.search(r"token-v1\s+token\s+retired .* wrapped by phi-token v3", listing.stdout), listing.stdout
    assert re.search(r"token-v2\s+token\s+active .* wrapped by phi-token v3", listing.stdout), listing.stdout
    policy = run_cli(settings, "keys", "openbao-policy", "reveal")
    assert policy.returncode == 0 and "transit/decrypt/phi-token" in policy.stdout
