"""A non-editable install carries the detector model and the schemas, and uses them (issue 14, item 3).

The wheel is built from this working tree (``pip wheel --no-deps``) and installed with ``--no-deps``
into a fresh virtual environment whose only other path is this environment's site-packages (a
``.pth`` line; ``.pth`` files in that folder, such as the editable install's finder, are not run), so
the dependencies need no network while ``pipeline`` itself comes from the wheel alone. Commands run
from an empty folder, so the checkout is never on ``sys.path``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from pipeline.core.crypto.keyring import Keyring

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
MAX_WHEEL_BYTES = 40 * 1024 * 1024
NOTE = "Pt John Smith (MRN 4417702) seen 03/04/2024 for chest pain."


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)


#: What setuptools prints when the packaging is declared in a way it deprecates or half-ignores (issue 28).
PACKAGING_WARNING = re.compile(r"BuildBackendWarning|SetuptoolsDeprecationWarning|would be ignored|Editable install")


def _checkout_copy(target: Path) -> Path:
    """A copy of the files git would commit (tracked, or new and not ignored), so a stale ``build/``
    folder in the checkout can neither hide a missing file nor add a deleted one."""
    listed = _run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO)
    assert listed.returncode == 0, listed.stderr
    for name in filter(None, listed.stdout.split("\0")):
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    source = _checkout_copy(tmp_path_factory.mktemp("source"))
    out = tmp_path_factory.mktemp("dist")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)], cwd=source)
    assert built.returncode == 0, built.stderr[-3000:]
    assert not PACKAGING_WARNING.search(built.stderr), built.stderr[-3000:]
    (path,) = out.glob("phi_pipeline-*.whl")
    return path


def test_editable_install_as_make_install_does_prints_no_packaging_warning(tmp_path: Path):
    source = _checkout_copy(tmp_path / "source")
    root = tmp_path / "venv"
    assert _run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=tmp_path).returncode == 0
    python = root / "bin" / "python"
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", "-e", str(source)],
        cwd=source,
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    assert not PACKAGING_WARNING.search(installed.stderr), installed.stderr[-3000:]


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wheel-venv") / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(root)], cwd=root.parent)
    assert made.returncode == 0, made.stderr
    python = root / "bin" / "python"
    asked = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], root)
    site = Path(asked.stdout.strip())
    (site / "zz_phi_test_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    installed = _run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)], root.parent
    )
    assert installed.returncode == 0, installed.stderr[-3000:]
    return root


def _env(**phi: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PHI_", "PYTHON"))}
    return {**env, **phi}


def test_wheel_ships_every_model_file_and_schema_and_stays_small(wheel: Path):
    assert wheel.stat().st_size < MAX_WHEEL_BYTES, f"{wheel.stat().st_size} bytes"
    with zipfile.ZipFile(wheel) as archive:
        sizes = {info.filename: info.file_size for info in archive.infolist()}
    shipped_folders = (
        (REPO / "models" / "detector", "detector"),
        (REPO / "models" / "sensitive", "sensitive"),
        (REPO / "schemas", "schemas"),
    )
    for folder, packaged in shipped_folders:
        expected = {
            f"pipeline/_data/{packaged}/{p.relative_to(folder).as_posix()}": p.stat().st_size
            for p in folder.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        }
        shipped = {name: size for name, size in sizes.items() if name.startswith(f"pipeline/_data/{packaged}/")}
        assert expected and shipped == expected
    for data in ("detection/lexicon_data", "summary_data"):  # the detector's word lists, the summary guard's
        for path in (REPO / "pipeline" / "core" / data).iterdir():
            assert sizes.get(f"pipeline/core/{data}/{path.name}") == path.stat().st_size, path.name


def test_installed_wheel_finds_a_name_with_its_packaged_model(venv: Path, tmp_path: Path):
    python = venv / "bin" / "python"
    where = _run(
        [str(python), "-c", "import pipeline, pipeline.config as c; print(pipeline.__file__, c.DEFAULT_DETECTOR)"],
        tmp_path,
        _env(),
    )
    module, model = where.stdout.split()
    assert Path(module).is_relative_to(venv) and Path(model).is_relative_to(venv), where.stdout
    source = tmp_path / "notes.jsonl"
    source.write_text(json.dumps({"id": "n1", "text": NOTE}) + "\n", encoding="utf-8")
    done = _run([str(venv / "bin" / "phi-pipeline"), "detect", "--redact", str(source)], tmp_path, _env())
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert "John" not in row["text"] and "Smith" not in row["text"], row["text"]
    assert "NAME" in {span["type"] for span in row["spans"]}
    assert f"from {model}" in done.stderr and "model_quantized.onnx@sha256:" in done.stderr


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_installed_worker_uses_packaged_schemas_and_model_and_refuses_without_the_model(venv: Path, tmp_path: Path):
    phi = {
        "PHI_KEYRING": Keyring.generate().to_json(),
        "PHI_BOOTSTRAP_SERVERS": f"127.0.0.1:{_closed_port()}",
        "PHI_CONNECT_TIMEOUT": "1",
        "PHI_METRICS_PORT": "0",
    }
    worker = [str(venv / "bin" / "phi-pipeline"), "worker"]
    # Keyring, packaged schemas and packaged model all pass: the worker gets as far as the (absent) broker.
    done = _run(worker, tmp_path, _env(**phi))
    assert done.returncode == 69, done.stderr
    assert "detector: detector/model_quantized.onnx@sha256:" in done.stderr
    # The same install with its model file gone refuses to start, before connecting, and says how to go on.
    packaged = Path(
        _run(
            [str(venv / "bin" / "python"), "-c", "import pipeline.config as c; print(c.DEFAULT_DETECTOR)"], tmp_path
        ).stdout.strip()
    )
    shutil.move(packaged / "model_quantized.onnx", tmp_path / "moved.onnx")
    try:
        done = _run(worker, tmp_path, _env(**phi))
    finally:
        shutil.move(tmp_path / "moved.onnx", packaged / "model_quantized.onnx")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "no Kafka broker" not in done.stderr
    assert "model_quantized.onnx" in done.stderr and "PHI_RULES_ONLY=true" in done.stderr
