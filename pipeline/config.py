"""All settings in one place: environment variables with the ``PHI_`` prefix, validated at start.

Why one module: an operator should be able to read every knob in one table (the README's is generated
from :data:`SETTINGS`) and get one error that lists every wrong setting at once, not the first of many.
Nothing here touches Kafka or the network; the stream layer turns :class:`Settings` into client options.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from pipeline.core.errors import ConfigError
from pipeline.core.roles import OutputRole
from pipeline.core.sensitive import SensitivePolicy

PREFIX = "PHI_"
REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGED_DATA = Path(__file__).resolve().parent / "_data"  # only in an installed wheel: see setup.py


def shipped_folder(packaged: str, checkout: str) -> Path:
    """A data folder shipped with the code: the installed package's copy (a wheel), else the checkout's."""
    installed = PACKAGED_DATA / packaged
    return installed if installed.is_dir() else REPO_ROOT / checkout


DEFAULT_DETECTOR = shipped_folder("detector", "models/detector")
DEFAULT_SCHEMA_DIR = shipped_folder("schemas", "schemas")
DEFAULT_SENSITIVE_MODEL = DEFAULT_DETECTOR  # the category head beside the detector: one encoder pass (issue 26)
RULES_ONLY_HINT = "or set PHI_RULES_ONLY=true to run with the rules alone on purpose (far lower recall: see README)"

SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
EXECUTION_PROVIDERS = ("auto", "cpu", "cuda", "tensorrt")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
OPENBAO_AUTH = ("approle", "kubernetes", "token")
#: Kafka compression codecs the pipeline reads and writes (aiokafka with cramjam); "none" writes uncompressed.
COMPRESSION_TYPES = ("none", "gzip", "snappy", "lz4", "zstd")


@dataclass(frozen=True)
class Setting:
    """One documented environment variable, as declared on a :class:`Settings` field by :func:`declare`."""

    name: str  # attribute on Settings; the variable is PHI_<NAME upper>
    default: Any
    parse: Callable[[str], Any]
    help: str
    secret: bool = False
    #: The default as the README shows it, where the real one depends on the machine (a host name, a path).
    shown: str | None = None

    @property
    def env(self) -> str:
        return PREFIX + self.name.upper()


_DECLARATION = "phi_setting"


def declare(
    default: Any, parse: Callable[[str], Any], help: str, *, secret: bool = False, shown: str | None = None
) -> Any:
    """A :class:`Settings` field that carries everything about its variable: default, parser, help text.

    Why: each setting is written down once, where its type is, and both the validation in
    :meth:`Settings.from_env` and the README table (:func:`settings_table`) read it from there, so the
    field list, the documented variables and their defaults cannot drift apart. A ``secret`` is left out
    of ``repr`` and shown as ``(hidden)`` in errors. The field has no dataclass default: a
    :class:`Settings` is built by :meth:`Settings.from_env`, which applies the declared default.
    """
    return field(repr=not secret, metadata={_DECLARATION: (default, parse, help, secret, shown)})


def _int(raw: str) -> int:
    try:
        return int(raw.strip())
    except ValueError:
        raise ValueError("must be a whole number") from None


def _positive_int(raw: str) -> int:
    value = _int(raw)
    if value <= 0:
        raise ValueError("must be a whole number above 0")
    return value


def _port(raw: str) -> int:
    value = _int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("must be a TCP port between 0 and 65535 (0 disables)")
    return value


def _positive_float(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("must be a number") from None
    if value <= 0:
        raise ValueError("must be a number above 0")
    return value


def _bool(raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise ValueError("must be true or false")


def _choice(options: tuple[str, ...], *, upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.strip().upper() if upper else raw.strip().lower()
        if value not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return value

    return parse


def _bootstrap(raw: str) -> str:
    servers = [part.strip() for part in raw.split(",") if part.strip()]
    if not servers:
        raise ValueError("must list at least one host:port")
    for server in servers:
        host, sep, port = server.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{server!r} is not host:port")
    return ",".join(servers)


def _topic(raw: str) -> str:
    value = raw.strip()
    allowed = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    if not value or len(value) > 249 or not set(value) <= allowed or value in (".", ".."):
        raise ValueError("must be 1-249 characters of letters, digits, '.', '_' or '-'")
    return value


def _optional_path(raw: str) -> Path | None:
    value = raw.strip()
    return Path(value).expanduser() if value else None


def _text(raw: str) -> str:
    return raw.strip()


def _sensitive_policy(raw: str) -> SensitivePolicy:
    try:
        return SensitivePolicy.parse(raw)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True)
class Settings:
    """Validated settings. Build with :meth:`from_env`; secrets are hidden from ``repr``."""

    bootstrap_servers: str = declare("127.0.0.1:9092", _bootstrap, "Kafka bootstrap servers, comma-separated host:port")
    topic_ingest: str = declare("phi.ingest", _topic, "Input topic: signed records carrying PHI")
    topic_redacted: str = declare("phi.redacted", _topic, "Output topic: de-identified records")
    topic_summaries: str = declare("phi.summaries", _topic, "Output topic: note summaries")
    topic_audit: str = declare("phi.audit", _topic, "Audit topic: one hash-chained event per message")
    topic_deadletter: str = declare("phi.deadletter", _topic, "Dead letters: rejected inputs, original bytes encrypted")
    topic_restricted: str = declare(
        "phi.restricted", _topic, "Restricted topic: de-identified records of sensitive categories the policy routes"
    )
    partitions: int = declare(4, _positive_int, "Partitions per topic when the pipeline creates its topics")
    replication_factor: int = declare(1, _positive_int, "Replication factor when the pipeline creates its topics")
    group_id: str = declare("phi-pipeline", _text, "Kafka consumer group (faust app id) shared by all workers")
    worker_id: str = declare(
        socket.gethostname(), _text, "This worker's name in audit chains and logs", shown="(hostname)"
    )
    security_protocol: str = declare("PLAINTEXT", _choice(SECURITY_PROTOCOLS, upper=True), "Kafka security protocol")
    ssl_cafile: Path | None = declare(
        None, _optional_path, "CA bundle that signed the brokers' certificates (SSL, SASL_SSL)"
    )
    ssl_certfile: Path | None = declare(None, _optional_path, "Client certificate for mutual TLS")
    ssl_keyfile: Path | None = declare(None, _optional_path, "Client private key for mutual TLS")
    compression_type: str = declare(
        "none", _choice(COMPRESSION_TYPES), "Codec of the batches the pipeline writes (every codec is read)"
    )
    sasl_mechanism: str = declare("PLAIN", _choice(SASL_MECHANISMS, upper=True), "SASL mechanism (SASL_*)")
    sasl_username: str = declare("", _text, "SASL user name")
    sasl_password: str = declare("", _text, "SASL password", secret=True)
    keyring_path: Path | None = declare(None, _optional_path, "Keyring file (mode 0600); see `phi-pipeline keys init`")
    keyring: str = declare("", _text, "Keyring JSON (plain or base64) inline, for tests and demos only", secret=True)
    schema_dir: Path = declare(
        DEFAULT_SCHEMA_DIR,
        Path,
        "Folder of Avro schemas (*.avsc) with PHI tags",
        shown="`schemas/` in the checkout, the package's copy in a wheel",
    )
    input_schema: str = declare("clinical_record", _text, "Default input schema name when a message names none")
    policy_path: Path | None = declare(
        None,
        _optional_path,
        "Policy file (YAML): per-format path rules, deny/allow lists, custom recognizers (`phi-pipeline policy check`)",
        shown="the shipped Safe Harbor policy",
    )
    max_message_bytes: int = declare(1_048_576, _positive_int, "Inputs larger than this are dead-lettered as oversized")
    max_text_chars: int = declare(
        262_144, _positive_int, "Text to detect per message past which it is dead-lettered (text-too-large)"
    )
    detect_budget_seconds: float = declare(
        30.0, _positive_float, "Detection time per message past which it is dead-lettered (detect-timeout)"
    )
    batch_size: int = declare(64, _positive_int, "Messages taken per batch by the ingest agent")
    batch_timeout: float = declare(0.2, _positive_float, "Seconds to wait to fill a batch")
    batch_step: int = declare(
        16,
        _int,
        "Messages processed per step of a batch; a step's outputs are sent while the next is processed (0: one step; "
        "batches under 2 ms of processing a message go in one step)",
    )
    detector_model: Path | None = declare(
        DEFAULT_DETECTOR,
        _optional_path,
        "Token-classification ONNX model folder (default: the int8 model shipped in the package)",
        shown="`models/detector` in the checkout, the package's copy in a wheel",
    )
    rules_only: bool = declare(
        False, _bool, "Detect with the rules alone, no model (must be asked for: never a fallback)"
    )
    execution_provider: str = declare("auto", _choice(EXECUTION_PROVIDERS), "ONNX Runtime provider")
    inference_threads: int = declare(0, _int, "ONNX Runtime intra-op threads (0: one per core)")
    sensitive_classifier: bool = declare(
        True, _bool, "Classify notes into sensitive categories (substance use, mental health, HIV/STI, ...)"
    )
    sensitive_model: Path = declare(
        DEFAULT_SENSITIVE_MODEL,
        Path,
        "Sensitive-category model folder: the detector's folder with its category head (one encoder pass for "
        "both), or a separate classifier built by `model build-sensitive`",
        shown="`models/detector` in the checkout (its `category_head.*`), the package's copy in a wheel",
    )
    sensitive_policy: SensitivePolicy = declare(
        SensitivePolicy(),
        _sensitive_policy,
        "Per category: pass, drop_summary, withhold_text or restrict, as category=action pairs (others keep defaults)",
        shown=f"`{SensitivePolicy().describe()}`",
    )
    summarizer_enabled: bool = declare(False, _bool, "Run the summary agent on redacted notes")
    summarizer_model: Path | None = declare(None, _optional_path, "Summarizer ONNX folder (built by a setup step)")
    summarizer: str = declare(
        "",
        _choice(("", "extractive", "generated")),
        "Summary method: extractive (section-aware, no model), generated (needs PHI_SUMMARIZER_MODEL); empty: "
        "generated when a model is set, and summaries enabled without one are an error",
    )
    summary_batch_size: int = declare(8, _positive_int, "Notes summarized per batch by the summary agent")
    summary_max_new_tokens: int = declare(96, _positive_int, "Upper bound on tokens generated per summary")
    metrics_bind: str = declare("127.0.0.1", _text, "Address the metrics/health server listens on")
    metrics_port: int = declare(9464, _port, "Port of /metrics, /healthz and /readyz (0 disables)")
    metrics_token: str = declare("", _text, "Bearer token required on the metrics endpoints (empty: none)", secret=True)
    metrics_tls_certfile: Path | None = declare(
        None, _optional_path, "Certificate to serve the metrics endpoints over HTTPS"
    )
    metrics_tls_keyfile: Path | None = declare(None, _optional_path, "Private key for PHI_METRICS_TLS_CERTFILE")
    session_timeout: float = declare(10.0, _positive_float, "Consumer group session timeout, seconds (tansu: about 4)")
    heartbeat_interval: float = declare(3.0, _positive_float, "Consumer heartbeat interval, seconds (tansu: 1)")
    connect_timeout: float = declare(
        30.0, _positive_float, "Seconds to retry the first connection to the brokers before giving up (exit status 69)"
    )
    data_dir: Path = declare(
        Path(tempfile.gettempdir()) / "phi-pipeline", Path, "Worker scratch folder", shown="`$TMPDIR/phi-pipeline`"
    )
    log_level: str = declare("INFO", _choice(LOG_LEVELS, upper=True), "Log level; logs never carry PHI values")
    # ---- key custody (OpenBao) and the reveal service (issue 16) ----
    openbao_addr: str = declare("", _text, "OpenBao (or Vault) address for a wrapped keyring, e.g. https://bao:8200")
    openbao_auth: str = declare("approle", _choice(OPENBAO_AUTH), "How this workload logs in to OpenBao")
    openbao_role_id: str = declare("", _text, "AppRole role id (PHI_OPENBAO_AUTH=approle)")
    openbao_secret_id_file: Path | None = declare(
        None, _optional_path, "File holding the AppRole secret id (mounted from a Secret)"
    )
    openbao_token: str = declare(
        "", _text, "OpenBao token (PHI_OPENBAO_AUTH=token: administrators, tests)", secret=True
    )
    openbao_kubernetes_role: str = declare("", _text, "OpenBao Kubernetes auth role (PHI_OPENBAO_AUTH=kubernetes)")
    openbao_cacert: Path | None = declare(None, _optional_path, "CA bundle that signed OpenBao's certificate")
    openbao_transit_mount: str = declare("transit", _text, "Mount path of OpenBao's transit engine")
    openbao_check_interval: float = declare(
        15.0, _positive_float, "Seconds between a worker's checks that OpenBao still lets it unwrap its keys"
    )
    custody_grace_seconds: float = declare(
        180.0,
        _positive_float,
        "Seconds a worker or reveal service goes on with its keys in memory while OpenBao does not answer; then "
        "the worker stops and reveals are refused (a seal or a revoked policy stops them at once)",
    )
    reveal_bind: str = declare("127.0.0.1", _text, "Address the reveal service listens on")
    reveal_port: int = declare(8443, _port, "HTTPS port of the reveal service")
    reveal_tls_certfile: Path | None = declare(None, _optional_path, "Reveal service certificate (HTTPS only)")
    reveal_tls_keyfile: Path | None = declare(None, _optional_path, "Private key for PHI_REVEAL_TLS_CERTFILE")
    reveal_access_file: Path | None = declare(
        None, _optional_path, "Reveal access file: roles, users (TOTP), hashed API tokens"
    )
    reveal_oidc_issuer: str = declare("", _text, "OIDC issuer whose bearer JWTs the reveal service accepts")
    reveal_oidc_audience: str = declare("phi-reveal", _text, "Audience the OIDC JWTs must name")
    reveal_oidc_jwks_url: str = declare("", _text, "JWKS URL of the OIDC issuer (HTTPS)")
    reveal_oidc_cafile: Path | None = declare(None, _optional_path, "CA bundle for the JWKS URL")
    reveal_rate_limit: int = declare(30, _positive_int, "Reveal attempts per user per minute")
    reveal_idle_timeout: float = declare(900.0, _positive_float, "Seconds of inactivity after which a session ends")
    reveal_session_max: float = declare(28800.0, _positive_float, "Longest a reveal session lasts, seconds")
    reveal_url: str = declare("", _text, "The reveal service's URL, for `phi-pipeline reveal`")
    reveal_cafile: Path | None = declare(None, _optional_path, "CA bundle that signed the reveal service's certificate")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Read every ``PHI_*`` variable, apply keyword overrides, and validate all at once."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for setting in SETTINGS:
            raw = env.get(setting.env)
            if raw is None:
                values[setting.name] = setting.default
                continue
            try:
                values[setting.name] = setting.parse(raw)
            except ValueError as exc:
                shown = "(hidden)" if setting.secret else repr(raw)
                problems.append(f"{setting.env}={shown}: {exc}")
        unknown = sorted(k for k in env if k.startswith(PREFIX) and k[len(PREFIX) :].lower() not in _BY_NAME)
        problems.extend(
            f"{name}: not a known setting (typo?); see the README's configuration table" for name in unknown
        )
        values.update(overrides)
        if not problems:  # cross-checks need every value parsed
            problems.extend(_cross_checks(values))
        if problems:
            raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
        return cls(**values)

    def with_overrides(self, **overrides: Any) -> Settings:
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        current.update(overrides)
        problems = _cross_checks(current)
        if problems:
            raise ConfigError("invalid configuration:\n  - " + "\n  - ".join(problems))
        return Settings(**current)

    def topic_for(self, role: OutputRole) -> str:
        """The topic each output role is written to (the one map from roles to topics)."""
        return {
            OutputRole.REDACTED: self.topic_redacted,
            OutputRole.DEADLETTER: self.topic_deadletter,
            OutputRole.AUDIT: self.topic_audit,
            OutputRole.SUMMARY: self.topic_summaries,
            OutputRole.RESTRICTED: self.topic_restricted,
        }[role]

    @property
    def topics(self) -> tuple[str, ...]:
        return (
            self.topic_ingest,
            self.topic_redacted,
            self.topic_summaries,
            self.topic_audit,
            self.topic_deadletter,
            self.topic_restricted,
        )


#: Every setting in declaration order, read from the :class:`Settings` fields (see :func:`declare`).
SETTINGS: tuple[Setting, ...] = tuple(Setting(f.name, *f.metadata[_DECLARATION]) for f in fields(Settings))
_BY_NAME = {setting.name: setting for setting in SETTINGS}


def _cross_checks(values: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    protocol = values["security_protocol"]
    if protocol.startswith("SASL") and not (values["sasl_username"] and values["sasl_password"]):
        problems.append(f"PHI_SECURITY_PROTOCOL={protocol} needs PHI_SASL_USERNAME and PHI_SASL_PASSWORD")
    for name in ("ssl_cafile", "ssl_certfile", "ssl_keyfile", "metrics_tls_certfile", "metrics_tls_keyfile"):
        path = values[name]
        if path is not None and not Path(path).is_file():
            problems.append(f"PHI_{name.upper()}: file {str(path)!r} does not exist")
    if bool(values["ssl_certfile"]) != bool(values["ssl_keyfile"]):
        problems.append("PHI_SSL_CERTFILE and PHI_SSL_KEYFILE go together for mutual TLS: set both or neither")
    if bool(values["metrics_tls_certfile"]) != bool(values["metrics_tls_keyfile"]):
        problems.append("PHI_METRICS_TLS_CERTFILE and PHI_METRICS_TLS_KEYFILE go together: set both or neither")
    if values["ssl_certfile"] and not protocol.endswith("SSL"):
        problems.append(f"PHI_SSL_CERTFILE is set but PHI_SECURITY_PROTOCOL={protocol} does not use TLS")
    names = ("topic_ingest", "topic_redacted", "topic_summaries", "topic_audit", "topic_deadletter", "topic_restricted")
    topics = [values[n] for n in names]
    if len(set(topics)) != len(topics):
        problems.append(f"PHI_TOPIC_*: the {len(names)} topics must all be different")
    if values["keyring_path"] is not None and values["keyring"]:
        problems.append("PHI_KEYRING_PATH and PHI_KEYRING are both set: choose one")
    if not Path(values["schema_dir"]).is_dir():
        problems.append(f"PHI_SCHEMA_DIR: folder {str(values['schema_dir'])!r} does not exist")
    if values["custody_grace_seconds"] < values["openbao_check_interval"]:
        problems.append(
            "PHI_CUSTODY_GRACE_SECONDS must be at least PHI_OPENBAO_CHECK_INTERVAL (one check must fit in the grace)"
        )
    if values["heartbeat_interval"] >= values["session_timeout"]:
        problems.append("PHI_HEARTBEAT_INTERVAL must be below PHI_SESSION_TIMEOUT (a third of it is usual)")
    if values["rules_only"]:
        pass  # the model setting is not used
    elif values["detector_model"] is None:
        problems.append(f"PHI_DETECTOR_MODEL is empty: set it to a model folder, {RULES_ONLY_HINT}")
    elif not Path(values["detector_model"]).is_dir():
        problems.append(
            f"PHI_DETECTOR_MODEL: folder {str(values['detector_model'])!r} does not exist; "
            f"point it at the detector model folder, {RULES_ONLY_HINT}"
        )
    if values["summarizer_model"] is not None and not Path(values["summarizer_model"]).is_dir():
        problems.append(
            f"PHI_SUMMARIZER_MODEL: folder {str(values['summarizer_model'])!r} does not exist "
            "(build it with `phi-pipeline model build-summarizer`)"
        )
    problems.extend(_summarizer_checks(values))
    if values["sensitive_classifier"] and not Path(values["sensitive_model"]).is_dir():
        problems.append(
            f"PHI_SENSITIVE_MODEL: folder {str(values['sensitive_model'])!r} does not exist; point it at the "
            "sensitive-category model folder, or set PHI_SENSITIVE_CLASSIFIER=false to pass sensitive notes unmarked"
        )
    if values["inference_threads"] < 0:
        problems.append("PHI_INFERENCE_THREADS must be 0 (automatic) or more")
    if values["batch_step"] < 0:
        problems.append("PHI_BATCH_STEP must be 0 (the whole batch in one step) or more")
    problems.extend(_custody_checks(values))
    return problems


def _summarizer_checks(values: Mapping[str, Any]) -> list[str]:
    """Summaries never fall back to extractive silently: without a model, extractive must be asked for."""
    method, model = values["summarizer"], values["summarizer_model"]
    if method == "extractive" and model is not None:
        return ["PHI_SUMMARIZER=extractive and PHI_SUMMARIZER_MODEL are both set: choose one"]
    if method == "generated" and model is None:
        return ["PHI_SUMMARIZER=generated needs PHI_SUMMARIZER_MODEL (`phi-pipeline model build-summarizer`)"]
    if values["summarizer_enabled"] and model is None and method != "extractive":
        return [
            "PHI_SUMMARIZER_ENABLED=true without PHI_SUMMARIZER_MODEL: set PHI_SUMMARIZER=extractive for the "
            "section-aware extractive summaries (the measured default, see models/SUMMARIZER_CARD.md), or point "
            "PHI_SUMMARIZER_MODEL at a built summarizer"
        ]
    return []


def _custody_checks(values: Mapping[str, Any]) -> list[str]:
    """Key custody and reveal-service settings (issue 16)."""
    problems: list[str] = []
    for name in (
        "openbao_secret_id_file",
        "openbao_cacert",
        "reveal_tls_certfile",
        "reveal_tls_keyfile",
        "reveal_access_file",
        "reveal_oidc_cafile",
        "reveal_cafile",
    ):
        path = values[name]
        if path is not None and not Path(path).is_file():
            problems.append(f"PHI_{name.upper()}: file {str(path)!r} does not exist")
    addr = values["openbao_addr"]
    if addr and not addr.startswith(("https://", "http://127.0.0.1", "http://localhost", "http://[::1]")):
        problems.append("PHI_OPENBAO_ADDR must be https:// (plain http only on loopback, for the demo and tests)")
    if bool(values["reveal_tls_certfile"]) != bool(values["reveal_tls_keyfile"]):
        problems.append("PHI_REVEAL_TLS_CERTFILE and PHI_REVEAL_TLS_KEYFILE go together: set both or neither")
    if bool(values["reveal_oidc_issuer"]) != bool(values["reveal_oidc_jwks_url"]):
        problems.append("PHI_REVEAL_OIDC_ISSUER and PHI_REVEAL_OIDC_JWKS_URL go together: set both or neither")
    if values["reveal_oidc_jwks_url"] and not values["reveal_oidc_jwks_url"].startswith("https://"):
        problems.append("PHI_REVEAL_OIDC_JWKS_URL must be an https:// URL")
    if values["reveal_url"] and not values["reveal_url"].startswith("https://"):
        problems.append("PHI_REVEAL_URL must be an https:// URL (reveals never travel in clear)")
    return problems


def settings_table() -> str:
    """The Markdown configuration table for the README."""
    rows = ["| Variable | Default | Meaning |", "| --- | --- | --- |"]
    for setting in SETTINGS:
        default = setting.default if setting.shown is None else setting.shown
        shown = "" if default in (None, "") else f"`{default}`" if not str(default).startswith("`") else default
        rows.append(f"| `{setting.env}` | {shown} | {setting.help} |")
    return "\n".join(rows)


def settings_to_env(settings: Settings) -> dict[str, str]:
    """The ``PHI_*`` variables that reproduce these settings in a child process."""
    env: dict[str, str] = {}
    for setting in SETTINGS:
        value = getattr(settings, setting.name)
        if value is None:
            env[setting.env] = ""
        elif isinstance(value, bool):
            env[setting.env] = "true" if value else "false"
        else:
            env[setting.env] = str(value)
    return env


if __name__ == "__main__":  # python -m pipeline.config: the README's configuration table
    print(settings_table())
