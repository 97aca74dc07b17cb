"""Transmission security: worker and commands over mutual TLS to the embedded broker behind stunnel.

tansu speaks plaintext only, so stunnel terminates TLS (requiring a client certificate signed by the
test CA) and tansu advertises stunnel's port, so every client connection goes through TLS.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.config import settings_to_env
from pipeline.devtools.inputs import encode_record, signed_input
from pipeline.devtools.synthetic import synthetic_records
from pipeline.interfaces.embedded_broker import EmbeddedBroker, free_port
from pipeline.stream.admin import BrokerUnavailableError, ensure_topics
from pipeline.stream.tls_check import TransportSecurityError, tls_preflight
from tests.e2e.certs import TestPki
from tests.e2e.helpers import log_tail, message_id, read_outputs, send, worker_process

STUNNEL = shutil.which("stunnel4") or shutil.which("stunnel")
pytestmark = [
    pytest.mark.broker,
    pytest.mark.skipif(
        STUNNEL is None, reason="stunnel is not installed (Debian package stunnel4); .ci/run installs it"
    ),
]


@dataclass
class TlsBroker:
    bootstrap: str
    plain_bootstrap: str
    pki: TestPki
    client: tuple[Path, Path]
    folder: Path


def _wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory) -> Iterator[TlsBroker]:
    folder = tmp_path_factory.mktemp("tls")
    pki = TestPki(folder)
    server_cert, server_key = pki.issue("server", server=True)
    client = pki.issue("worker", server=False)
    tls_port = free_port()
    with EmbeddedBroker(advertised_port=tls_port, log_path=folder / "tansu.log") as broker:
        config = folder / "stunnel.conf"
        config.write_text(
            f"foreground = yes\npid =\nsyslog = no\noutput = {folder / 'stunnel.log'}\n"
            f"[kafka]\naccept = 127.0.0.1:{tls_port}\nconnect = 127.0.0.1:{broker.port}\n"
            f"cert = {server_cert}\nkey = {server_key}\nCAfile = {pki.ca}\n"
            "verifyChain = yes\nrequireCert = yes\nsslVersionMin = TLSv1.2\n"
        )
        stunnel = subprocess.Popen([STUNNEL, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
        try:
            _wait_port(tls_port)
            yield TlsBroker(f"127.0.0.1:{tls_port}", broker.bootstrap, pki, client, folder)
        finally:
            stunnel.terminate()
            stunnel.wait(10)


def _tls_settings(base, tls: TlsBroker, name: str, cert: tuple[Path, Path] | None = None, ca: Path | None = None):
    cert_path, key_path = cert or tls.client
    suffix = name.replace("_", "-")
    return base.with_overrides(
        bootstrap_servers=tls.bootstrap,
        security_protocol="SSL",
        ssl_cafile=ca or tls.pki.ca,
        ssl_certfile=cert_path,
        ssl_keyfile=key_path,
        group_id=f"tls-{suffix}",
        **{f"topic_{t}": f"tls.{suffix}.{t}" for t in ("ingest", "redacted", "summaries", "audit", "deadletter")},
    )


def test_worker_produce_and_consume_over_mutual_tls(tls_broker, base_settings, registry, keyring, tmp_path):
    settings = _tls_settings(base_settings, tls_broker, "mutual")
    assert tls_preflight(settings)[0].endswith(("TLSv1.3", "TLSv1.2"))
    asyncio.run(ensure_topics(settings))
    entry = registry.get("clinical_record")
    records = list(synthetic_records(30, seed=4))
    inputs = [signed_input(keyring, entry.ref, encode_record(entry, r.record, "avro"), r.key) for r in records]
    log = tmp_path / "worker.log"
    with worker_process(settings, log):
        send(settings, inputs)
        outputs = read_outputs(settings, {i.message_id for i in inputs}, timeout=120)
    got = {message_id(m) for m in outputs if m.topic == settings.topic_redacted}
    assert got == {i.message_id for i in inputs}, log_tail(log)
    env = {**os.environ, **settings_to_env(settings)}
    consumed = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipeline.interfaces.cli",
            "consume",
            "--topic",
            "redacted",
            "--verify",
            "--timeout",
            "15",
            "--limit",
            "30",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert consumed.returncode == 0, consumed.stderr
    assert "30 messages from" in consumed.stderr and "0 failed verification" in consumed.stderr


def test_plaintext_client_is_refused(tls_broker, base_settings):
    settings = base_settings.with_overrides(bootstrap_servers=tls_broker.bootstrap, group_id="tls-plain")
    with pytest.raises(BrokerUnavailableError):
        asyncio.run(ensure_topics(settings, timeout=4))


def test_untrusted_broker_certificate_is_a_clear_error(tls_broker, base_settings, tmp_path):
    other = TestPki(tmp_path, name="someone-elses-ca")
    settings = _tls_settings(base_settings, tls_broker, "untrusted", ca=other.ca)
    with pytest.raises(TransportSecurityError, match="not trusted"):
        tls_preflight(settings)


def test_expired_client_certificate_is_a_clear_error(tls_broker, base_settings):
    expired = tls_broker.pki.issue("expired-client", server=False, expired=True)
    settings = _tls_settings(base_settings, tls_broker, "expired", cert=expired)
    with pytest.raises(TransportSecurityError, match=r"expired|rejected"):
        tls_preflight(settings)


def test_client_certificate_from_another_ca_is_refused(tls_broker, base_settings, tmp_path):
    other = TestPki(tmp_path, name="rogue-ca")
    rogue = other.issue("rogue-client", server=False)
    settings = _tls_settings(base_settings, tls_broker, "rogue", cert=rogue)
    with pytest.raises(TransportSecurityError):
        tls_preflight(settings)


def test_metrics_endpoint_over_https_with_bearer_token(tmp_path):
    import ssl
    import urllib.error
    import urllib.request

    from pipeline.stream.metrics import HealthServer, PipelineMetrics, server_tls

    pki = TestPki(tmp_path)
    cert, key = pki.issue("metrics", server=True)
    metrics = PipelineMetrics()
    metrics.messages.labels("emit", "ok").inc(3)
    port = free_port()
    server = HealthServer(metrics, "127.0.0.1", port, token="s3cret-token", tls=server_tls(cert, key))
    client = ssl.create_default_context(cafile=str(pki.ca))

    def get(path: str, token: str | None = None) -> tuple[int, str]:
        request = urllib.request.Request(f"https://127.0.0.1:{port}{path}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, context=client, timeout=5) as response:  # noqa: S310
                return response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, ""

    async def scenario() -> list[tuple[int, str]]:
        await server.start()
        try:
            loop = asyncio.get_running_loop()
            return [
                await loop.run_in_executor(None, get, "/metrics"),
                await loop.run_in_executor(None, get, "/metrics", "wrong"),
                await loop.run_in_executor(None, get, "/metrics", "s3cret-token"),
                await loop.run_in_executor(None, get, "/healthz"),
            ]
        finally:
            await server.stop()

    no_token, wrong, right, health = asyncio.run(scenario())
    assert no_token[0] == 401 and wrong[0] == 401
    assert right[0] == 200 and 'phi_messages_total{outcome="ok",stage="emit"} 3.0' in right[1]
    assert health == (200, "ok\n")
