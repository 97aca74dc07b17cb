"""Expected failures end in one clear line and a documented exit status, never a traceback (issue 14, item 5).

Commands run as a user runs them (a child process of ``python -m pipeline.interfaces.cli``) wherever
what matters is the whole process: its exit status, everything on stderr, how long it took.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipeline.config import DEFAULT_DETECTOR
from pipeline.core.crypto.keyring import Keyring
from pipeline.interfaces import detect_commands
from pipeline.interfaces.cli import EXIT_CODES, main
from pipeline.interfaces.stream_commands import InputFileError, build_inputs

CLI = (sys.executable, "-m", "pipeline.interfaces.cli")


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cli_env(**phi: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHI_")}
    env.update(phi)
    return env


def run_cli(*argv: str, env: dict[str, str], timeout: float = 120, **kw) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([*CLI, *argv], env=env, capture_output=True, text=True, timeout=timeout, **kw)
    return done, time.monotonic() - started


def assert_one_clear_line(stderr: str, *needles: str) -> None:
    assert "Traceback" not in stderr and "Exception ignored" not in stderr, stderr
    lines = stderr.splitlines()
    errors = [i for i, line in enumerate(lines) if line.startswith(("error: ", "configuration error: "))]
    assert len(errors) == 1, stderr  # one message, not one per connection attempt
    assert not any("ERROR" in line for line in lines), stderr  # no client library error lines either
    message = "\n".join(lines[errors[0] :])  # a settings error lists every wrong setting below its line
    for needle in needles:
        assert needle in message, stderr


# -- worker --------------------------------------------------------------------------------------------


def test_worker_without_a_broker_retries_briefly_then_says_so_in_one_line():
    keyring = Keyring.generate().to_json()
    env = cli_env(PHI_KEYRING=keyring, PHI_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port()}", PHI_CONNECT_TIMEOUT="2")
    done, seconds = run_cli("worker", env=env)
    assert done.returncode == 69, done.stderr
    assert_one_clear_line(done.stderr, "no Kafka broker answered", "PHI_BOOTSTRAP_SERVERS")
    assert "Unable connect" not in done.stderr  # aiokafka's per-attempt lines are not passed on
    assert "detector: detector/" in done.stderr  # configuration and model were checked first
    assert seconds < 30


def test_worker_checks_the_keyring_before_it_connects():
    env = cli_env(PHI_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port()}", PHI_CONNECT_TIMEOUT="60")
    done, seconds = run_cli("worker", env=env)
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done.stderr, "no keyring configured", "PHI_KEYRING_PATH")
    assert seconds < 30  # never waited for the broker


def _broken_model(tmp_path: Path) -> Path:
    """The shipped model folder with its ONNX file replaced by junk: present, but unreadable."""
    broken = tmp_path / "broken-model"
    shutil.copytree(DEFAULT_DETECTOR, broken, ignore=shutil.ignore_patterns("*.onnx"))
    (broken / "model_quantized.onnx").write_bytes(b"not an onnx model" * 64)
    return broken


def test_worker_refuses_to_start_without_its_model(tmp_path):
    keyring = Keyring.generate().to_json()
    base = {"PHI_KEYRING": keyring, "PHI_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}", "PHI_CONNECT_TIMEOUT": "1"}
    for model, needle in (
        (tmp_path / "absent", "does not exist"),
        (_broken_model(tmp_path), "cannot be loaded"),
    ):
        done, _ = run_cli("worker", env=cli_env(**base, PHI_DETECTOR_MODEL=str(model)))
        assert done.returncode == 2, done.stderr
        assert_one_clear_line(done.stderr, str(model), needle, "PHI_RULES_ONLY=true")
        assert "no Kafka broker" not in done.stderr  # refused before connecting
    done, _ = run_cli("worker", env=cli_env(**base, PHI_DETECTOR_MODEL=""))
    assert done.returncode == 2 and "PHI_DETECTOR_MODEL is empty" in done.stderr, done.stderr
    # Rules only when asked for explicitly: the model is not needed, the worker goes on to the broker.
    done, _ = run_cli("worker", env=cli_env(**base, PHI_DETECTOR_MODEL=str(tmp_path / "absent"), PHI_RULES_ONLY="1"))
    assert done.returncode == 69, done.stderr
    assert "detector: rules-only (PHI_RULES_ONLY=true" in done.stderr


# -- consume and produce ------------------------------------------------------------------------------


def test_consume_against_a_wrong_address_is_one_line_and_leaves_no_client_open():
    env = cli_env(PHI_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port()}", PHI_CONNECT_TIMEOUT="1")
    done, _ = run_cli("consume", "--topic", "redacted", env=env)
    assert done.returncode == 69, done.stderr
    assert_one_clear_line(done.stderr, "no Kafka broker answered")
    assert "Unclosed" not in done.stderr and "KafkaConnectionError:" not in done.stderr


def test_consume_against_a_silent_listener_gives_up_on_time():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        env = cli_env(PHI_BOOTSTRAP_SERVERS=f"127.0.0.1:{silent.getsockname()[1]}", PHI_CONNECT_TIMEOUT="2")
        done, seconds = run_cli("consume", "--topic", "redacted", env=env)
    assert done.returncode == 69, done.stderr
    assert_one_clear_line(done.stderr, "no Kafka broker answered")
    assert seconds < 20  # aiokafka alone waits 40 s per request


def _produce_args(path: Path, encoding: str) -> argparse.Namespace:
    return argparse.Namespace(file=path, count=0, bad=0, encoding=encoding, seed=1, no_notes=False)


def test_produce_file_with_an_unencodable_string_names_line_and_field(base_settings, tmp_path):
    from pipeline.devtools.synthetic import synthetic_records

    good = next(iter(synthetic_records(1, seed=3))).record
    bad = dict(good, note="Pt seen \ud800 today, SSN 123-45-6780")
    path = tmp_path / "records.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")  # valid JSON: "\ud800"
    for encoding in ("json", "avro", "confluent"):
        with pytest.raises(InputFileError) as info:
            build_inputs(base_settings, _produce_args(path, encoding))
        text = str(info.value)
        assert "records.jsonl:2" in text and "record.note" in text and "surrogate" in text
        assert "123-45-6780" not in text
    # a record that does not fit the schema names the field, not its value
    path.write_text(json.dumps({k: v for k, v in good.items() if k != "patient_id"}) + "\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"records\.jsonl:1: record does not fit schema .*patient_id"):
        build_inputs(base_settings, _produce_args(path, "avro"))


def test_produce_file_errors_through_the_command_line(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text('{"record_id": "r1", "note": "x \\ud800"}\n', encoding="utf-8")
    keyring = tmp_path / "keyring.json"
    Keyring.generate().save(keyring)
    env = cli_env(PHI_KEYRING_PATH=str(keyring), PHI_BOOTSTRAP_SERVERS=f"127.0.0.1:{closed_port()}")
    done, _ = run_cli("produce", "--file", str(path), "--encoding", "json", env=env)
    assert done.returncode == 2, done.stderr
    assert_one_clear_line(done.stderr, "records.jsonl:1", "record.note")


# -- detect -----------------------------------------------------------------------------------------------


def parse_detect(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    detect_commands.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_detect_on_a_latin1_file_is_a_clear_error(tmp_path, capsys):
    source = tmp_path / "latin1.jsonl"
    source.write_bytes('{"id": 1, "text": "Pt José Núñez seen"}\n'.encode("latin-1"))
    args = parse_detect(["detect", "--rules-only", str(source), "-o", str(tmp_path / "out.jsonl")])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "line 1: not UTF-8" in err and "iconv" in err
    assert "Jos" not in err


def test_detect_stops_at_the_first_bad_line_after_writing_the_lines_before(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": "a", "text": "SSN 123-45-6780"}\nnot json\n{"id": "c", "text": "ok"}\n')
    out = tmp_path / "out.jsonl"
    args = parse_detect(["detect", "--rules-only", str(source), "-o", str(out)])
    assert args.func(args) == 2
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a"]
    assert "line 2" in capsys.readouterr().err


def test_detect_skip_invalid_reports_the_skipped_line_numbers(tmp_path, capsys):
    lines = [
        b'{"id": "a", "text": "SSN 123-45-6780"}',
        b"not json 123-45-6781",
        b"",
        '{"id": "d", "text": "Jos\u00e9"}'.encode("latin-1"),
        b'{"id": "e", "text": "lone \\ud800 surrogate"}',
        b'{"id": "f", "text": 42}',
        b'["a list"]',
        b'{"id": "h", "text": "MRN 4417702"}',
    ]
    source = tmp_path / "in.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out.jsonl"
    args = parse_detect(["detect", "--rules-only", "--skip-invalid", str(source), "-o", str(out)])
    assert args.func(args) == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["a", "h"]
    err = capsys.readouterr().err
    assert "skipped 5 invalid lines: 2, 4, 5, 6, 7" in err
    assert "123-45-6781" not in err


def test_detect_refuses_a_missing_model_unless_rules_only(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"id": 1, "text": "Pt John Smith"}\n')
    args = parse_detect(["detect", "--model", str(tmp_path / "absent"), str(source)])
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "--rules-only" in err
    args = parse_detect(["detect", "--model", str(_broken_model(tmp_path)), str(source)])
    assert args.func(args) == 2
    assert "cannot be loaded" in capsys.readouterr().err


# -- pipes and help -------------------------------------------------------------------------------------


def test_keys_list_into_a_closed_pipe_exits_quietly(tmp_path):
    path = tmp_path / "keyring.json"
    Keyring.generate().save(path)
    read_end, write_end = os.pipe()
    os.close(read_end)  # like `| head -3` that has already exited: the first write gets EPIPE
    try:
        done = subprocess.run(
            [*CLI, "keys", "list", "--path", str(path)],
            env=cli_env(),
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 141, done.stderr
    assert done.stderr == ""


def test_keys_list_piped_into_head(tmp_path):
    path = tmp_path / "keyring.json"
    keyring = Keyring.generate()
    for _ in range(40):
        keyring.rotate(next(iter(keyring)).purpose)
    keyring.save(path)
    script = f"{' '.join(CLI)} keys list --path {path} | head -3; echo status=${{PIPESTATUS[0]}} >&2"
    done = subprocess.run(
        ["/bin/bash", "-c", script],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert len(done.stdout.splitlines()) == 3
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr
    assert done.stderr.strip() in ("status=0", "status=141")


def test_help_documents_every_exit_status(capsys):
    for argv in (["--help"], ["worker", "--help"], ["detect", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        text = capsys.readouterr().out
        assert "exit status:" in text
        for code, _ in EXIT_CODES:
            assert f"  {code} " in text
    assert {code for code, _ in EXIT_CODES} >= {0, 1, 2, 69, 75, 130, 141}


def test_send_failure_code_matches_the_app():
    from pipeline.interfaces.cli import EXIT_SEND_FAILED
    from pipeline.stream.app import EXIT_SEND_FAILED as APP_EXIT

    assert EXIT_SEND_FAILED == APP_EXIT


def test_readme_lists_every_exit_status():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    for code, _ in EXIT_CODES:
        assert f"\n| {code} | " in readme, code
