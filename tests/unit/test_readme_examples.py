"""The README's library examples run as written: every ``python`` block under its library heading, in order,
from the repository root (so ``schemas/`` is where the examples say), each in a fresh namespace."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
HEADING = "## Library: de-identify in Python, without Kafka"


def _blocks() -> list[str]:
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    start = text.index(HEADING)
    end = text.find("\n## ", start + len(HEADING))
    section = text[start : end if end >= 0 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def test_the_library_section_has_an_example_per_kind_of_input():
    code = "\n".join(_blocks())
    for call in ("deidentifier.text(", "deidentifier.record(", '.document("hl7v2"', '.document("fhir-r4"'):
        assert call in code, call


@pytest.mark.parametrize("index", range(4))
def test_readme_example_runs(index, monkeypatch, capsys):
    monkeypatch.chdir(REPO_ROOT)
    code = compile(_blocks()[index], f"README.md python block {index + 1}", "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - running the README's own examples is the test
    assert capsys.readouterr().out.strip()  # each example prints what it made
