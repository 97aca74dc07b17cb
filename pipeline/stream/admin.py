"""Create the pipeline's topics before workers start (tansu needs it; a real Kafka may forbid auto-creation)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError

from pipeline.config import Settings
from pipeline.core.errors import PipelineError
from pipeline.stream.kafka_options import client_options
from pipeline.stream.tls_check import tls_preflight

log = logging.getLogger(__name__)


class BrokerUnavailableError(PipelineError, ConnectionError):
    """The bootstrap servers did not answer in time."""

    reason = "broker-unavailable"


MAX_MESSAGE_BYTES = "max.message.bytes"


async def topic_message_limits(settings: Settings, topics: list[str], timeout: float = 10.0) -> dict[str, int]:
    """Each topic's ``max.message.bytes`` where the broker reports it (DescribeConfigs); topics it does
    not report (a broker without the request, such as tansu) are left out, and the caller keeps its own limit."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=int(timeout * 1000))
    limits: dict[str, int] = {}
    try:
        await admin.start()
        resources = [ConfigResource(ConfigResourceType.TOPIC, t, {MAX_MESSAGE_BYTES: None}) for t in topics]
        limits = limits_from_responses(await asyncio.wait_for(admin.describe_configs(resources), timeout))
    except (KafkaError, OSError, TimeoutError, ValueError, TypeError, IndexError) as exc:
        log.info("brokers did not report topic size limits (%s); the producer's limit applies", type(exc).__name__)
    finally:
        try:
            await admin.close()
        except (KafkaError, OSError):
            pass
    return limits


def limits_from_responses(responses: list[Any]) -> dict[str, int]:
    """``max.message.bytes`` per topic from DescribeConfigs responses (resources: error code, message,
    type, name, entries of name and value first); topics with an error or no number are left out."""
    limits: dict[str, int] = {}
    for response in responses:
        for resource in getattr(response, "resources", []):
            error_code, _message, _type, name, entries = resource[:5]
            if error_code:
                continue
            for entry in entries:
                if entry[0] == MAX_MESSAGE_BYTES and entry[1] is not None and str(entry[1]).isdigit():
                    limits[name] = int(entry[1])
    return limits


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
