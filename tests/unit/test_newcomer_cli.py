"""What a newcomer meets on the command line (issue 28): ``redact`` names --ephemeral-keys when no keyring is
set and writes to ``-o`` like ``detect`` and ``classify``; ``model --help`` lists every subcommand."""

from __future__ import annotations

import re

import pytest

from pipeline.devtools.clinical import synthetic_hl7
from pipeline.interfaces.cli import build_parser, main


@pytest.fixture
def no_keyring(monkeypatch):
    for name in ("PHI_KEYRING", "PHI_KEYRING_PATH"):
        monkeypatch.delenv(name, raising=False)


def test_redact_without_a_keyring_names_ephemeral_keys(no_keyring, tmp_path, capsys):
    source = tmp_path / "in.hl7"
    source.write_text(next(synthetic_hl7(1)).value.decode())
    assert main(["redact", "--format", "hl7v2", "--rules-only", str(source)]) == 2
    assert "--ephemeral-keys" in capsys.readouterr().err


def test_redact_writes_to_the_output_file(no_keyring, tmp_path, capsys):
    message = next(synthetic_hl7(1))
    source, target = tmp_path / "in.hl7", tmp_path / "out.hl7"
    source.write_text(message.value.decode())
    args = ["redact", "--format", "hl7v2", "--rules-only", "--ephemeral-keys", "-o", str(target), str(source)]
    assert main(args) == 0
    written = target.read_text()
    assert written.startswith("MSH|") and capsys.readouterr().out == ""
    assert all(value not in written for value in message.planted)


def test_model_help_lists_every_subcommand():
    parser = build_parser()
    model = parser._subparsers._group_actions[0].choices["model"]
    names = set(model._subparsers._group_actions[0].choices)
    usage = model.format_help()
    listed = set(re.search(r"\{([^}]*)\}", usage).group(1).split(","))
    assert names == listed and len(names) >= 10
