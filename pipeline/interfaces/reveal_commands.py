"""``reveal-server`` (the HTTPS reveal service), ``reveal`` (its command-line client) and ``reveal-tokens``
(issue, revoke and list API tokens in the access file; a token is shown once, only its hash is kept)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import signal
import ssl
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pipeline.core.access.reveal import PURPOSES, AccessPolicy, ApiToken, hash_api_token, new_api_token
from pipeline.core.crypto.custody import Workload
from pipeline.core.crypto.keyring import write_private_file
from pipeline.core.errors import ConfigError, PipelineError
from pipeline.interfaces.components import load_settings, open_keyring
from pipeline.runtime.assembly import load_schemas
from pipeline.stream.custody_watch import CustodyGuard

log = logging.getLogger(__name__)
EXIT_REFUSED = 3


def register(subparsers: argparse._SubParsersAction) -> None:
    server = subparsers.add_parser("reveal-server", help="run the HTTPS reveal service (PHI_REVEAL_* settings)")
    server.set_defaults(func=_serve)

    rev = subparsers.add_parser("reveal", help="reveal a token or ciphertext through the reveal service (audited)")
    rev.add_argument("protected", help="a tok:... token or enc:... ciphertext")
    rev.add_argument("--type", required=True, dest="phi_type", help="its PHI type, e.g. MRN")
    rev.add_argument("--purpose", required=True, choices=PURPOSES, help="purpose of use, recorded in the audit")
    rev.add_argument("--role", help="the role to act in (default: your only role)")
    rev.add_argument("--api-token-file", type=Path, help="file holding your API token or OIDC JWT (default: stdin)")
    rev.add_argument("--totp", help="your current TOTP code (default: asked for)")
    rev.add_argument("--message-id", help="for ciphertexts: the record's message id")
    rev.add_argument("--field", help="for ciphertexts: the field path it was encrypted under")
    rev.add_argument("--break-glass", action="store_true", help="emergency access (purpose emergency; alerts)")
    rev.set_defaults(func=_reveal)

    tokens = subparsers.add_parser("reveal-tokens", help="issue, revoke or list reveal API tokens")
    sub = tokens.add_subparsers(dest="tokens_command", required=True, metavar="{issue,revoke,list}")
    issue = sub.add_parser("issue", help="issue a token for a user; printed once, only its hash is stored")
    issue.add_argument("--access-file", required=True, type=Path)
    issue.add_argument("--user", required=True)
    issue.add_argument("--days", type=float, default=30.0, help="days until it expires (default 30)")
    issue.set_defaults(func=_issue)
    revoke = sub.add_parser("revoke", help="revoke a token by id: refused, and its sessions end, at once")
    revoke.add_argument("--access-file", required=True, type=Path)
    revoke.add_argument("--id", required=True, dest="token_id")
    revoke.set_defaults(func=_revoke)
    listing = sub.add_parser("list", help="token ids, users, expiry and state (never a token or hash)")
    listing.add_argument("--access-file", required=True, type=Path)
    listing.set_defaults(func=_list)


# ---- the service ----------------------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    from aiohttp import web

    from pipeline.core.access.sessions import MemoryTotpSteps, TotpSteps
    from pipeline.interfaces.reveal_server import AuditWriter, JwksSource, RevealService, server_tls_context
    from pipeline.runtime.openbao import OpenBaoTotpSteps
    from pipeline.stream.metrics import HealthServer, PipelineMetrics, server_tls

    settings = load_settings()
    tls = server_tls_context(settings.reveal_tls_certfile, settings.reveal_tls_keyfile)
    custody = open_keyring(settings, Workload.REVEAL)
    registry = load_schemas(settings)
    jwks = (
        JwksSource(settings.reveal_oidc_jwks_url, settings.reveal_oidc_cafile) if settings.reveal_oidc_issuer else None
    )
    metrics = PipelineMetrics()
    audit = AuditWriter(settings, custody.keyring, registry)
    steps: TotpSteps
    if custody.kms is not None and custody.wrapped is not None:
        steps = OpenBaoTotpSteps(custody.kms, prefix=custody.wrapped.key_prefix)
    else:
        log.warning("TOTP steps kept in this process only (plain keyring): run one replica of the reveal service")
        steps = MemoryTotpSteps()
    guard = CustodyGuard(settings.custody_grace_seconds, "reveal service")
    service = RevealService(settings, custody.keyring, audit.write, metrics, jwks=jwks, totp_steps=steps, custody=guard)

    async def run() -> None:
        await audit.start()
        health = HealthServer(
            metrics, settings.metrics_bind, settings.metrics_port, settings.metrics_token,
            tls=server_tls(settings.metrics_tls_certfile, settings.metrics_tls_keyfile),
        )  # fmt: skip
        if settings.metrics_port:
            await health.start()
        runner = web.AppRunner(service.app(), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, settings.reveal_bind, settings.reveal_port, ssl_context=tls)
        await site.start()
        port = runner.addresses[0][1] if runner.addresses else settings.reveal_port
        print(f"reveal service ready at https://{settings.reveal_bind}:{port}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        watch = asyncio.create_task(_watch_custody(guard, custody.check, settings.openbao_check_interval))
        try:
            await stop.wait()
        finally:
            watch.cancel()
            await runner.cleanup()
            await health.stop()
            await audit.stop()

    asyncio.run(run())
    return 0


async def _watch_custody(guard: CustodyGuard, check: Callable[[], None], interval: float) -> None:
    """Like the worker's: once custody is lost (a seal, a revoked policy, OpenBao silent past the grace)
    the service stays up and refuses every login and reveal (503, audited) until it is restarted."""
    while guard.lost is None:
        await asyncio.sleep(interval)
        await guard.check(check)


# ---- the client -----------------------------------------------------------------------------------


def _call(
    url: str, context: ssl.SSLContext, method: str, bearer: str, totp: str | None, body: Any = None
) -> tuple[int, dict[str, Any]]:
    data = None if body is None else json.dumps(body).encode()
    headers = {"Authorization": f"Bearer {bearer}", "Content-Type": "application/json"}
    if totp:
        headers["X-TOTP"] = totp
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 (https, checked)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read() or b"{}")
        except ValueError:
            return exc.code, {}
    except (urllib.error.URLError, OSError) as exc:
        raise PipelineError(f"the reveal service at {url} did not answer ({type(exc).__name__})") from None


def _reveal(args: argparse.Namespace) -> int:
    settings = load_settings()
    if not settings.reveal_url:
        raise ConfigError("set PHI_REVEAL_URL to the reveal service (https://...) and PHI_REVEAL_CAFILE if private")
    credential = (args.api_token_file.read_text() if args.api_token_file else sys.stdin.readline()).strip()
    totp = (
        args.totp or (sys.stdin.readline().strip() if args.api_token_file is None else "") or getpass.getpass("TOTP: ")
    )
    context = ssl.create_default_context(cafile=str(settings.reveal_cafile) if settings.reveal_cafile else None)
    base = settings.reveal_url.rstrip("/")
    status, answer = _call(f"{base}/v1/sessions", context, "POST", credential, totp, {})
    if status != 201:
        print(f"reveal refused at login: {answer.get('outcome')} ({answer.get('reason')}); audited", file=sys.stderr)
        return EXIT_REFUSED
    session = answer["session"]
    body = {"protected": args.protected, "phi_type": args.phi_type, "purpose": args.purpose, "role": args.role,
            "message_id": args.message_id, "field_path": args.field, "break_glass": args.break_glass}  # fmt: skip
    try:
        status, answer = _call(f"{base}/v1/reveal", context, "POST", session, totp, body)
    finally:
        _call(f"{base}/v1/sessions", context, "DELETE", session, None)
    if status != 200:
        print(
            f"reveal refused: {answer.get('outcome')} ({answer.get('reason')}); the attempt was audited",
            file=sys.stderr,
        )
        return EXIT_REFUSED
    if answer.get("outcome") == "allowed-break-glass":
        print("break-glass reveal: the security team has been alerted", file=sys.stderr)
    print(answer["value"])
    return 0


# ---- API tokens -----------------------------------------------------------------------------------


def _save(path: Path, policy: AccessPolicy) -> None:
    write_private_file(path, (json.dumps(policy.to_dict(), indent=2) + "\n").encode("utf-8"))


def _issue(args: argparse.Namespace) -> int:
    policy = AccessPolicy.load(args.access_file)
    if args.user not in policy.users:
        raise ConfigError(f'user {args.user} is not in {args.access_file}; add them under "users" first')
    token = new_api_token()
    token_id = "t-" + new_api_token()[:10]
    expires = datetime.now(UTC).replace(microsecond=0) + timedelta(days=args.days)
    _save(
        args.access_file,
        policy.with_tokens([*policy.tokens, ApiToken(token_id, args.user, hash_api_token(token), expires)]),
    )
    print(
        f"issued {token_id} for {args.user}, expires {expires.isoformat()}; hand this token over once:", file=sys.stderr
    )
    print(token)
    return 0


def _revoke(args: argparse.Namespace) -> int:
    policy = AccessPolicy.load(args.access_file)
    if not any(t.token_id == args.token_id for t in policy.tokens):
        raise ConfigError(f"no API token {args.token_id} in {args.access_file} (see: reveal-tokens list)")
    tokens = [
        ApiToken(t.token_id, t.user, t.hash, t.expires, True) if t.token_id == args.token_id else t
        for t in policy.tokens
    ]
    _save(args.access_file, policy.with_tokens(tokens))
    print(f"revoked {args.token_id}; the reveal service refuses it, and ends its sessions, from its next request")
    return 0


def _list(args: argparse.Namespace) -> int:
    policy = AccessPolicy.load(args.access_file)
    now = datetime.now(UTC)
    print(f"{'ID':<14} {'USER':<20} {'STATE':<8} EXPIRES")
    for t in policy.tokens:
        state = "revoked" if t.revoked else "expired" if t.expires <= now else "active"
        print(f"{t.token_id:<14} {t.user:<20} {state:<8} {t.expires.isoformat()}")
    return 0
