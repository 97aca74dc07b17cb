"""Create the pipeline's topics before workers start (tansu needs it; a real Kafka may forbid auto-creation)."""

from __future__ import annotations

import asyncio
import logging

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError

from pipeline.config import Settings
from pipeline.stream.kafka_options import client_options
from pipeline.stream.tls_check import tls_preflight

log = logging.getLogger(__name__)


class BrokerUnavailableError(ConnectionError):
    """The bootstrap servers did not answer in time."""


async def ensure_topics(settings: Settings, timeout: float = 30.0) -> list[str]:
    """Create any missing pipeline topic; returns the names created. Existing topics are left as they are.

    Over TLS, one direct handshake first turns a certificate problem into a clear error.
    """
    tls_preflight(settings)
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=int(timeout * 1000))
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            await admin.start()
            break
        except (KafkaConnectionError, KafkaError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise BrokerUnavailableError(
                    f"no Kafka broker answered at {settings.bootstrap_servers} within {timeout:.0f} s "
                    f"({type(exc).__name__}); check PHI_BOOTSTRAP_SERVERS and PHI_SECURITY_PROTOCOL"
                ) from None
            await asyncio.sleep(0.3)
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in settings.topics if t not in existing]
        if missing:
            await admin.create_topics([NewTopic(t, settings.partitions, settings.replication_factor) for t in missing])
            log.info("created topics %s with %d partitions", ", ".join(missing), settings.partitions)
        return missing
    finally:
        await admin.close()
