"""What the worker loads, and which way imports point (issue 19).

The worker handles real PHI, so what it loads should be what it runs: no demo or test helpers
(``pipeline.devtools``), no model building (``pipeline.modelbuild``) and none of the training stack
(torch, transformers, optimum), which the worker's installation does not even carry.
"""

from __future__ import annotations

import ast
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.core.crypto.keyring import Keyring

REPO_ROOT = Path(__file__).resolve().parents[2]
PACKAGE = REPO_ROOT / "pipeline"
#: Never in the worker's process: helpers for demos and tests, model building, the training stack.
WORKER_FORBIDDEN = ("pipeline.devtools", "pipeline.modelbuild", "torch", "transformers", "optimum")
#: The packages a worker's code lives in.
WORKER_PACKAGES = ("pipeline.core", "pipeline.runtime", "pipeline.stream")

_WORKER_RUN = """
import json, sys
from pipeline.interfaces.cli import main
status = main(["worker", "--agents", "redact,summarize"])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


def _forbidden(modules: list[str] | set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in WORKER_FORBIDDEN))


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_worker_import_closure_holds_no_devtools_modelbuild_or_training_stack():
    """``phi-pipeline worker`` run for real, in a process of its own, up to its first connection to Kafka.

    It parses the command line (so every command module is loaded, as in a deployment), checks settings,
    loads keyring, schemas and the shipped detector model, builds both agents' cores and imports the faust
    app; no broker answers, so it stops there with exit status 69. Everything it imported is then checked.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PHI_")}
    env.update(
        PHI_BOOTSTRAP_SERVERS=f"127.0.0.1:{_closed_port()}",
        PHI_CONNECT_TIMEOUT="0.5",
        PHI_KEYRING=Keyring.generate().to_json(),
        PHI_METRICS_PORT="0",
        PHI_LOG_LEVEL="ERROR",
        PHI_SUMMARIZER="extractive",
    )
    done = subprocess.run(
        [sys.executable, "-c", _WORKER_RUN], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["status"] == 69, done.stderr[-2000:]  # got as far as connecting: everything was loaded
    modules = set(report["modules"])
    assert {"pipeline.stream.app", "pipeline.runtime.onnx_recognizer", "pipeline.core.summary_processing"} <= modules
    assert _forbidden(modules) == []


def _modules(package: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(REPO_ROOT).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every module ``path`` imports anywhere in its body (in functions and TYPE_CHECKING blocks too)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            source = ".".join(p for p in (base, node.module or "") if p)
            for alias in node.names:  # `from pkg import module` imports the module; `from pkg import name`, pkg
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source)
    return found


def test_worker_packages_never_import_devtools_modelbuild_or_training_stack():
    """The static side of the closure test: not even a lazy import inside a function reaches them."""
    known = {name for name, _ in _modules(PACKAGE)}
    offenders = {
        name: _forbidden(_imports(name, path, known))
        for name, path in _modules(PACKAGE)
        if name.startswith(WORKER_PACKAGES)
    }
    assert {name: bad for name, bad in offenders.items() if bad} == {}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every loop a depth-first walk of ``graph`` (node -> the nodes it imports) runs into."""
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(node: str, trail: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph.get(node, ())):
            if state.get(target) == "open":
                cycles.append([*trail[trail.index(target) :], target])
            elif target not in state:
                visit(target, [*trail, target])
        state[node] = "done"

    for start in sorted(graph):
        if start not in state:
            visit(start, [start])
    return cycles


def test_core_import_graph_is_acyclic():
    """No two modules of ``pipeline.core`` need each other, however the import is hidden (issue 19 #2)."""
    core = {name: path for name, path in _modules(PACKAGE / "core")}
    graph = {name: _imports(name, path, set(core)) & set(core) - {name} for name, path in core.items()}
    assert _cycles(graph) == []
    assert "pipeline.core.detection.merge" in graph  # the graph is real: the merge module is in it


def _unit(module: str) -> str:
    """A module's folder in ``pipeline.core`` (``pipeline.core.formats.fhir`` -> ``formats``), or the
    module itself for a file directly in core."""
    parts = module.split(".")
    return parts[2] if len(parts) > 2 else module


def test_core_folders_import_each_other_in_no_cycle():
    """Folder by folder (crypto, detection, formats, policy, transform, ... and each file of core on its own),
    imports point one way: a folder that needs another is never needed back, however indirectly."""
    core = {name: path for name, path in _modules(PACKAGE / "core")}
    graph: dict[str, set[str]] = {}
    for name, path in core.items():
        targets = {_unit(t) for t in _imports(name, path, set(core)) & set(core)} - {_unit(name)}
        graph.setdefault(_unit(name), set()).update(targets)
    assert _cycles(graph) == []
    assert {"formats", "policy", "transform"} <= set(graph) and "formats" in graph["policy"]  # the graph is real


_LIBRARY_RUN = r"""
import json, sys
from pathlib import Path
from pipeline import Deidentifier, Keyring, Policy, RuleDetector, SchemaRegistry
d = Deidentifier(keyring=Keyring.generate(), detector=RuleDetector(), registry=SchemaRegistry.load(Path("schemas")))
d.text("Seen by Dr. Ann Lee on 03/14/2024.")
d.record("clinical_record", {"record_id": "r", "patient_id": "p", "note": "Call 617-555-0142."})
d.document("hl7v2", b"MSH|^~\\&|A|B|C|D|20240314||ADT^A01|1|P|2.5\rPID|1||123^^^H^MR||Lee^Ann\r")
d.document("fhir-r4", b'{"resourceType": "Patient", "name": [{"family": "Lee"}]}')
print(json.dumps(sorted(sys.modules)))
"""
#: Never loaded by a library user's de-identification: the Kafka clients and the metrics exporter.
LIBRARY_FORBIDDEN = ("aiokafka", "faust", "mode", "prometheus_client", "pipeline.stream", "pipeline.interfaces")


@pytest.mark.slow
def test_deidentifier_import_closure_holds_no_kafka_or_metrics_module():
    """``from pipeline import Deidentifier, Policy`` and one input of each kind, in a process of its own."""
    done = subprocess.run(
        [sys.executable, "-c", _LIBRARY_RUN],
        cwd=REPO_ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("PHI_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert "pipeline.core.deidentify" in modules and "pipeline.core.formats.fhir" in modules
    assert sorted(m for m in modules if any(m == f or m.startswith(f + ".") for f in LIBRARY_FORBIDDEN)) == []


def test_cli_choices_spelled_out_match_their_sources():
    """``produce --encoding`` and ``eval --format`` list their choices without importing the helpers."""
    from pipeline.devtools.inputs import ENCODINGS
    from pipeline.interfaces.detect_commands import CORPUS_FORMATS
    from pipeline.interfaces.stream_commands import ENCODINGS as PRODUCE_ENCODINGS
    from pipeline.modelbuild.evaluation import FORMATS

    assert PRODUCE_ENCODINGS == ENCODINGS
    assert CORPUS_FORMATS == FORMATS
