"""Create the pipeline's topics before workers start (tansu needs it; a real Kafka may forbid auto-creation),
and the one way every command makes its first connection: bounded retries, one clear error."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError, KafkaError

from pipeline.config import Settings
from pipeline.core.errors import PipelineError
from pipeline.stream.kafka_options import client_options
from pipeline.stream.tls_check import tls_preflight

log = logging.getLogger(__name__)
EXIT_BROKER_UNAVAILABLE = 69  # EX_UNAVAILABLE: nothing answered at PHI_BOOTSTRAP_SERVERS


class BrokerUnavailableError(PipelineError, ConnectionError):
    """The bootstrap servers did not answer within PHI_CONNECT_TIMEOUT."""

    exit_code = EXIT_BROKER_UNAVAILABLE

    reason = "broker-unavailable"


MAX_MESSAGE_BYTES = "max.message.bytes"


async def topic_message_limits(settings: Settings, topics: list[str], timeout: float = 10.0) -> dict[str, int]:
    """Each topic's ``max.message.bytes`` where the broker reports it (DescribeConfigs); topics it does
    not report (a broker without the request, such as tansu) are left out, and the caller keeps its own limit."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=int(timeout * 1000))
    limits: dict[str, int] = {}
    answered = False
    try:
        await admin.start()
        answered = True
        resources = [ConfigResource(ConfigResourceType.TOPIC, t, {MAX_MESSAGE_BYTES: None}) for t in topics]
        limits = limits_from_responses(await asyncio.wait_for(admin.describe_configs(resources), timeout))
    except (KafkaError, OSError, TimeoutError, ValueError, TypeError, IndexError) as exc:
        # A broker that answered and then closes the connection on DescribeConfigs (tansu does, though it
        # lists the request) offers no limits: not a fault worth a line at INFO.
        level = logging.DEBUG if answered and isinstance(exc, KafkaConnectionError) else logging.INFO
        why = type(exc).__name__
        log.log(level, "brokers did not report topic size limits (%s); the producer's limit applies", why)
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


@contextlib.contextmanager
def _quiet_client_logs() -> Iterator[None]:
    """aiokafka logs an ERROR line per failed attempt (about 100 in 30 s); we report once instead."""
    client_log = logging.getLogger("aiokafka")
    before = client_log.level
    if log.getEffectiveLevel() > logging.DEBUG:
        client_log.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        client_log.setLevel(before)


async def start_client(
    settings: Settings, create: Callable[[], Any], stop: Callable[[Any], Awaitable[Any]], timeout: float | None = None
) -> Any:
    """A started aiokafka client (admin, producer or consumer), retried with backoff until ``timeout``
    (default PHI_CONNECT_TIMEOUT). A client that failed to start is stopped before the next try, so nothing
    is left unclosed; when time runs out, :class:`BrokerUnavailableError` says so in one line."""
    timeout = settings.connect_timeout if timeout is None else timeout
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    delay, attempts = 0.25, 0
    with _quiet_client_logs():
        while True:
            attempts += 1
            client = create()
            try:  # bounded even where a connection hangs rather than being refused (a filtered port)
                await asyncio.wait_for(client.start(), timeout=max(deadline - loop.time(), 1.0))
                return client
            except (KafkaConnectionError, KafkaError, OSError) as exc:
                cause = type(exc).__name__
                with contextlib.suppress(Exception):
                    await stop(client)
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            log.debug("no broker at %s yet (attempt %d, %s)", settings.bootstrap_servers, attempts, cause)
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 5.0)
    raise BrokerUnavailableError(
        f"no Kafka broker answered at {settings.bootstrap_servers} ({attempts} attempts in {timeout:g} s, {cause}); "
        "check PHI_BOOTSTRAP_SERVERS and PHI_SECURITY_PROTOCOL, and that the broker is up "
        "(PHI_CONNECT_TIMEOUT sets how long to wait)"
    )


async def ensure_topics(settings: Settings, timeout: float | None = None) -> list[str]:
    """Create any missing pipeline topic; returns the names created. Existing topics are left as they are.

    Over TLS, one direct handshake first turns a certificate problem into a clear error.
    """
    tls_preflight(settings)
    wait = settings.connect_timeout if timeout is None else timeout
    admin = await start_client(
        settings,
        lambda: AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=int(max(wait, 5.0) * 1000)),
        lambda client: client.close(),
        wait,
    )
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in settings.topics if t not in existing]
        if missing:
            await admin.create_topics([NewTopic(t, settings.partitions, settings.replication_factor) for t in missing])
            log.info("created topics %s with %d partitions", ", ".join(missing), settings.partitions)
        return missing
    finally:
        await admin.close()
