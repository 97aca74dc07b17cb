"""The Helm chart in helm/phi-pipeline, rendered by Helm's own library and validated offline.

``helm-sdkpy`` (Helm v4 as a shared library) needs Python 3.12, the suite runs on 3.11: this module keeps a
3.12 virtualenv at ``.venv-helm`` (git-ignored; ``PHI_HELM_VENV`` overrides the path), creates it on first use
with the pinned packages below, and drives ``render_chart.py`` in it through one subprocess that renders
every value set, validates every object against the Kubernetes schemas and parses every PromQL expression.
The module is skipped, with the reason, only when no Python 3.12 interpreter exists.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipeline.config import SETTINGS

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "phi-pipeline"
EXAMPLES = CHART / "values-examples"
RENDER = Path(__file__).with_name("render_chart.py")
DASHBOARD = REPO / "deploy" / "grafana-dashboard.json"
DOCKERFILE = REPO / "deploy" / "Dockerfile"
ALERTS_DOC = REPO / "monitoring" / "alerts.md"
ALERT_TESTS = REPO / "monitoring" / "alerts.test.yaml"
VENV = Path(os.environ.get("PHI_HELM_VENV", REPO / ".venv-helm"))

# Everything the renderer needs, pinned; a change here rebuilds the virtualenv.
HELM_REQUIREMENTS = (
    "helm-sdkpy==0.1.32",  # Helm v4 library (install action, lint)
    "kubernetes-validate==1.37.0",  # Kubernetes JSON schemas per version (strict: no unknown fields)
    "cloudcoil-models-prometheus-operator==0.80.1.0",  # ServiceMonitor / PrometheusRule models
    "promql-parser==0.12.0",  # PromQL parser
    "PyYAML==6.0.4",
)
KUBE_VERSION = "1.33.0"

METRICS = {
    "phi_messages_total",
    "phi_entities_total",
    "phi_hmac_failures_total",
    "phi_dead_letters_total",
    "phi_stage_seconds",
    "phi_model_inference_seconds",
    "phi_batch_size",
    "phi_reveals_total",
    "phi_summaries_total",
    "phi_build_info",
    "phi_gpu_expected",
    "phi_consumer_lag_messages",
    "phi_last_progress_timestamp_seconds",
}
ALERTS = {
    "PhiHmacFailuresHigh",
    "PhiDeadLetterRatioHigh",
    "PhiRevealSpike",
    "PhiNoProgressWhileLagging",
    "PhiModelFellBackToCPU",
    "PhiRevealBreakGlass",
}
KNOWN_ENV = {setting.env: setting for setting in SETTINGS}

CASES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "tls_sasl": {"values_files": [str(EXAMPLES / "tls-sasl.yaml")]},
    "gpu": {"values_files": [str(EXAMPLES / "gpu.yaml")]},
    "summarizer": {"values_files": [str(EXAMPLES / "summarizer.yaml")]},
    "reveal_openbao": {"values_files": [str(EXAMPLES / "reveal-openbao.yaml")]},
    "reveal_approle": {
        "values_files": [str(EXAMPLES / "reveal-openbao.yaml")],
        "values": {
            "openbao": {
                "auth": "approle",
                "approle": {
                    "workerRoleId": "worker-role-id",
                    "workerSecretIdSecret": "phi-worker-secret-id",
                    "revealRoleId": "reveal-role-id",
                    "revealSecretIdSecret": "phi-reveal-secret-id",
                },
            }
        },
    },
    # Secrets made by the chart from values, no autoscaling
    "chart_secrets": {
        "values": {
            "kafka": {"securityProtocol": "SASL_PLAINTEXT", "sasl": {"username": "u", "password": "sasl-pw-7f3a"}},
            "keyring": {"content": '{"keys": []}'},
            "metrics": {"token": {"enabled": True, "value": "metrics-token-9c1e"}},
            "autoscaling": {"enabled": False},
            "replicaCount": 3,
        }
    },
}
# Value sets the chart must refuse, with the words its error must contain
REFUSED: dict[str, tuple[dict[str, Any], str]] = {
    "too_many_replicas": (
        {"autoscaling": {"maxReplicas": 13}, "kafka": {"partitions": 12}},
        "must be <= kafka.partitions",
    ),
    "no_keyring": ({"keyring": {"existingSecret": ""}}, "keyring.existingSecret"),
    "sasl_without_password": ({"kafka": {"securityProtocol": "SASL_SSL", "sasl": {"username": "u"}}}, "kafka.sasl"),
    "bad_protocol": ({"kafka": {"securityProtocol": "TLS"}}, "kafka.securityProtocol must be one of"),
    "reveal_without_openbao": ({"reveal": {"enabled": True}}, "reveal.enabled needs openbao.enabled"),
    "reveal_without_tls": (
        {"openbao": {"enabled": True}, "reveal": {"enabled": True, "accessSecret": "a"}},
        "reveal.tlsSecret is required",
    ),
}
# Objects with one mistake each: the validators must catch them, or "valid" above means nothing
BROKEN_OBJECTS: list[tuple[dict[str, Any], str]] = [
    (
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "typo"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "metadata": {"labels": {"a": "b"}},
                    "spec": {
                        "containers": [{"name": "c", "image": "i", "securityContext": {"readOnlyRootFileSystem": True}}]
                    },
                },
            },
        },
        "readOnlyRootFileSystem",
    ),
    (
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": "http"}]}},
        "port",
    ),
    (
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "ServiceMonitor",
            "metadata": {"name": "m"},
            "spec": {"selector": {}, "endpoints": [{"port": "metrics", "intervall": "30s"}]},
        },
        "intervall",
    ),
    (
        {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {"name": "r"},
            "spec": {"groups": [{"name": "g", "rules": [{"alert": "A", "expresion": "up == 0"}]}]},
        },
        "expr",
    ),
]


def _python312() -> str | None:
    candidates = [os.environ.get("PHI_HELM_PYTHON", ""), shutil.which("python3.12") or ""]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")), reverse=True)
    for candidate in filter(None, candidates):
        try:
            probe = subprocess.run(
                [candidate, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
                capture_output=True,
                text=True,
                timeout=30,
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        if probe.returncode == 0 and probe.stdout.strip() == "True":
            return candidate
    return None


def _helm_venv() -> Path:
    """The renderer's interpreter, creating or updating the 3.12 virtualenv when needed."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".phi-requirements"
    wanted = "\n".join(HELM_REQUIREMENTS)
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python
    base = _python312()
    if base is None:
        pytest.skip(
            "chart tests need Python 3.12 for helm-sdkpy and none was found "
            "(tried $PHI_HELM_PYTHON, python3.12 on PATH, ~/.pyenv/versions/3.12*)"
        )
    if not python.exists():
        subprocess.run([base, "-m", "venv", str(VENV)], check=True, timeout=300)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", *HELM_REQUIREMENTS],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if install.returncode != 0:
        pytest.fail(f"installing the chart-test packages into {VENV} failed:\n{install.stdout}\n{install.stderr}")
    stamp.write_text(wanted)
    return python


def _dashboard_exprs() -> dict[str, str]:
    """Every query of the Grafana dashboard, with Grafana's variables replaced by what they expand to."""
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = {}
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"].replace("$__rate_interval", "5m").replace("$namespace", ".*")
            exprs[f"{panel['title']} / {target['refId']}"] = expr
    return exprs


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    python = _helm_venv()
    cases = dict(CASES)
    cases.update({f"refused_{name}": {"values": values} for name, (values, _) in REFUSED.items()})
    request = {
        "chart": str(CHART),
        "kube_version": KUBE_VERSION,
        "cases": cases,
        "promql": _dashboard_exprs(),
        "validate": [obj for obj, _ in BROKEN_OBJECTS],
    }
    proc = subprocess.run(
        [str(python), str(RENDER)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert proc.returncode == 0, f"render_chart.py failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


# ---- helpers over rendered objects


def objects(rendered: dict[str, Any], case: str, kind: str) -> list[dict[str, Any]]:
    return [o for o in rendered[case]["objects"] if o["kind"] == kind]


def one(rendered: dict[str, Any], case: str, kind: str, component: str | None = None) -> dict[str, Any]:
    found = [
        o
        for o in objects(rendered, case, kind)
        if component is None or o["metadata"]["labels"].get("app.kubernetes.io/component") == component
    ]
    assert len(found) == 1, f"{case}: expected one {kind} {component or ''}, found {len(found)}"
    return found[0]


def pod_specs(rendered: dict[str, Any], case: str) -> list[dict[str, Any]]:
    specs = [d["spec"]["template"]["spec"] for d in objects(rendered, case, "Deployment")]
    assert specs, f"{case}: no Deployment rendered"
    return specs


def main_container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def env_of(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


def matches(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


# ---- rendering and schema validation


def test_lint_reports_no_warnings_or_errors(rendered: dict[str, Any]) -> None:
    lint = rendered["_lint"]
    assert lint["TotalChartsLinted"] == 1
    assert not lint["Errors"]
    # Helm's severities: 1 info, 2 warning, 3 error
    assert all(message["Severity"] < 2 for message in lint["Messages"]), lint["Messages"]


@pytest.mark.parametrize("case", list(CASES))
def test_every_object_renders_and_passes_its_schema(rendered: dict[str, Any], case: str) -> None:
    result = rendered[case]
    assert result["errors"] == []
    kinds = {o["kind"] for o in result["objects"]}
    assert {"Deployment", "Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy"} <= kinds
    assert {"ServiceMonitor", "PrometheusRule"} <= kinds
    # Helm's install sent exactly these objects to the (stub) API server
    assert any(r.startswith("POST /apis/apps/v1/namespaces/phi/deployments") for r in result["requests"])
    assert "phi-pipeline" in result["notes"] and "keyring" in result["notes"]


def test_validators_catch_mistakes(rendered: dict[str, Any]) -> None:
    for (obj, word), errors in zip(BROKEN_OBJECTS, rendered["_validate"], strict=True):
        assert errors, f"{obj['kind']} with a mistake in {word!r} passed validation"
        assert any(word in error for error in errors), errors


@pytest.mark.parametrize("name", list(REFUSED))
def test_chart_refuses_bad_values(rendered: dict[str, Any], name: str) -> None:
    _values, words = REFUSED[name]
    errors = rendered[f"refused_{name}"]["errors"]
    assert len(errors) == 1 and words in errors[0], errors


# ---- pod security


@pytest.mark.parametrize("case", list(CASES))
def test_every_pod_is_locked_down(rendered: dict[str, Any], case: str) -> None:
    for spec in pod_specs(rendered, case):
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True
        assert pod["runAsUser"] == 10001
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
        assert spec["automountServiceAccountToken"] is False
        assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC")
        containers = spec["containers"] + spec.get("initContainers", [])
        for container in containers:
            sc = container["securityContext"]
            assert sc["runAsNonRoot"] is True, container["name"]
            assert sc["runAsUser"] == 10001
            assert sc["readOnlyRootFilesystem"] is True, container["name"]
            assert sc["allowPrivilegeEscalation"] is False, container["name"]
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add")
            assert sc.get("privileged") is not True
            for bound in ("requests", "limits"):
                assert {"cpu", "memory"} <= set(container["resources"][bound]), (container["name"], bound)
    for account in objects(rendered, case, "ServiceAccount"):
        assert account["automountServiceAccountToken"] is False


@pytest.mark.parametrize("case", list(CASES))
def test_writable_paths_are_emptydirs_and_probes_hit_health_endpoints(rendered: dict[str, Any], case: str) -> None:
    for deployment in objects(rendered, case, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        container = main_container(deployment)
        env = env_of(container)
        mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
        for path in (env["PHI_DATA_DIR"]["value"], "/tmp"):
            assert "emptyDir" in volumes[mounts[path]["name"]], path
            assert not mounts[path].get("readOnly")
        port = int(env["PHI_METRICS_PORT"]["value"])
        ports = [{"name": "metrics", "containerPort": port, "protocol": "TCP"}]
        if deployment["metadata"]["labels"]["app.kubernetes.io/component"] == "reveal":
            ports.append({"name": "https", "containerPort": int(env["PHI_REVEAL_PORT"]["value"]), "protocol": "TCP"})
        assert container["ports"] == ports
        assert env["PHI_METRICS_BIND"]["value"] == "0.0.0.0"  # noqa: S104 - probes and scrapes come from outside
        assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "metrics"}
        assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "metrics"}
        # every mount other than the two scratch folders is read-only
        for path, mount in mounts.items():
            if path not in (env["PHI_DATA_DIR"]["value"], "/tmp"):
                assert mount.get("readOnly") is True, path


@pytest.mark.parametrize("case", list(CASES))
def test_keyring_comes_read_only_from_a_secret(rendered: dict[str, Any], case: str) -> None:
    for deployment in objects(rendered, case, "Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in spec["volumes"]}
        secret = volumes["keyring-secret"]["secret"]
        assert secret["defaultMode"] == 0o400
        assert [item["path"] for item in secret["items"]] == ["keyring.json"]
        # the Secret itself is mounted only read-only, and only into the init container
        for container in spec["containers"] + spec.get("initContainers", []):
            for mount in container["volumeMounts"]:
                if mount["name"] == "keyring-secret":
                    assert mount["readOnly"] is True
                    assert container in spec["initContainers"]
        # the worker reads the 0400 copy from a memory-backed folder it mounts read-only
        copy = volumes["keyring"]["emptyDir"]
        assert copy["medium"] == "Memory"
        container = main_container(deployment)
        keyring_path = env_of(container)["PHI_KEYRING_PATH"]["value"]
        mount = next(m for m in container["volumeMounts"] if m["name"] == "keyring")
        assert mount["readOnly"] is True
        assert keyring_path == mount["mountPath"].rstrip("/") + "/keyring.json"
        init = next(c for c in spec["initContainers"] if c["name"] == "keyring")
        assert init["command"][:3] == ["install", "-m", "0400"] and init["command"][-1] == keyring_path
    if case == "chart_secrets":
        made = {s["metadata"]["name"]: s for s in objects(rendered, case, "Secret")}
        assert secret["secretName"] in made and "keyring.json" in made[secret["secretName"]]["data"]
    else:
        assert secret["secretName"] == "phi-pipeline-keyring"


# ---- configuration


@pytest.mark.parametrize("case", list(CASES))
def test_env_holds_only_real_settings_with_valid_values(rendered: dict[str, Any], case: str) -> None:
    for deployment in objects(rendered, case, "Deployment"):
        for name, item in env_of(main_container(deployment)).items():
            assert name in KNOWN_ENV, f"{name} is not a setting in pipeline/config.py (the worker would refuse it)"
            if "value" in item:
                KNOWN_ENV[name].parse(item["value"])  # raises ValueError on a value the worker would reject
            else:
                assert set(item["valueFrom"]) <= {"secretKeyRef", "fieldRef"}
            if KNOWN_ENV[name].secret:
                assert "value" not in item, f"{name} is a secret and must come from a secretKeyRef"


def test_sasl_password_and_tls_files_come_from_secrets(rendered: dict[str, Any]) -> None:
    worker = one(rendered, "tls_sasl", "Deployment", "worker")
    env = env_of(main_container(worker))
    assert env["PHI_SECURITY_PROTOCOL"]["value"] == "SASL_SSL"
    assert env["PHI_SASL_MECHANISM"]["value"] == "SCRAM-SHA-512"
    assert env["PHI_SASL_PASSWORD"]["valueFrom"] == {"secretKeyRef": {"name": "phi-kafka-sasl", "key": "password"}}
    assert env["PHI_SASL_USERNAME"]["valueFrom"] == {"secretKeyRef": {"name": "phi-kafka-sasl", "key": "username"}}
    spec = worker["spec"]["template"]["spec"]
    tls_volume = next(v for v in spec["volumes"] if v["name"] == "kafka-tls")
    assert tls_volume["secret"]["secretName"] == "phi-kafka-tls"
    tls_mount = next(m for m in main_container(worker)["volumeMounts"] if m["name"] == "kafka-tls")
    assert tls_mount["readOnly"] is True
    for name, key in (("PHI_SSL_CAFILE", "ca.crt"), ("PHI_SSL_CERTFILE", "tls.crt"), ("PHI_SSL_KEYFILE", "tls.key")):
        assert env[name]["value"] == f"{tls_mount['mountPath']}/{key}"
    assert env["PHI_METRICS_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "phi-metrics-token", "key": "token"}
    monitor = one(rendered, "tls_sasl", "ServiceMonitor")
    auth = monitor["spec"]["endpoints"][0]["authorization"]
    assert auth == {"type": "Bearer", "credentials": {"name": "phi-metrics-token", "key": "token"}}
    # the chart creates no Secret when existing ones are named
    assert objects(rendered, "tls_sasl", "Secret") == []


def test_secrets_made_from_values_never_appear_in_pod_specs(rendered: dict[str, Any]) -> None:
    worker = one(rendered, "chart_secrets", "Deployment", "worker")
    text = json.dumps(worker)
    assert "sasl-pw-7f3a" not in text and "metrics-token-9c1e" not in text and '{\\"keys\\"' not in text
    env = env_of(main_container(worker))
    ref = env["PHI_SASL_PASSWORD"]["valueFrom"]["secretKeyRef"]
    made = {s["metadata"]["name"]: s for s in objects(rendered, "chart_secrets", "Secret")}
    assert ref["key"] in made[ref["name"]]["data"]
    assert worker["spec"]["replicas"] == 3
    assert objects(rendered, "chart_secrets", "HorizontalPodAutoscaler") == []


def test_gpu_values_request_a_gpu_and_the_cuda_provider(rendered: dict[str, Any]) -> None:
    worker = one(rendered, "gpu", "Deployment", "worker")
    container = main_container(worker)
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    assert env_of(container)["PHI_EXECUTION_PROVIDER"]["value"] == "cuda"
    spec = worker["spec"]["template"]["spec"]
    assert spec["nodeSelector"]["nvidia.com/gpu.present"] == "true"
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    assert spec["runtimeClassName"] == "nvidia"
    assert container["image"].endswith(":0.1.0-gpu")
    # and without gpu values there is no GPU anywhere
    default = main_container(one(rendered, "defaults", "Deployment", "worker"))
    assert "nvidia.com/gpu" not in json.dumps(default["resources"])
    assert env_of(default)["PHI_EXECUTION_PROVIDER"]["value"] == "cpu"


def test_summarizer_is_a_separate_deployment(rendered: dict[str, Any]) -> None:
    assert len(objects(rendered, "defaults", "Deployment")) == 1
    summarizer = one(rendered, "summarizer", "Deployment", "summarizer")
    container = main_container(summarizer)
    assert container["command"] == ["phi-pipeline"]
    assert container["args"] == ["worker", "--agents", "summarize"]
    env = env_of(container)
    assert env["PHI_SUMMARIZER_ENABLED"]["value"] == "true"
    assert env["PHI_SUMMARIZER_MODEL"]["value"] == "/models/summarizer"
    models = next(m for m in container["volumeMounts"] if m["name"] == "models")
    assert models == {"name": "models", "mountPath": "/models", "readOnly": True}
    worker = one(rendered, "summarizer", "Deployment", "worker")
    assert main_container(worker)["args"] == ["worker"]
    assert env_of(main_container(worker))["PHI_SUMMARIZER_ENABLED"]["value"] == "false"
    # both keep one consumer group, the disruption budget covers both
    assert env["PHI_GROUP_ID"] == env_of(main_container(worker))["PHI_GROUP_ID"]
    budgets = objects(rendered, "summarizer", "PodDisruptionBudget")
    labels = summarizer["spec"]["template"]["metadata"]["labels"]
    assert any(matches(b["spec"]["selector"]["matchLabels"], labels) for b in budgets)


# ---- scaling and traffic


@pytest.mark.parametrize("case", list(CASES))
def test_autoscaler_and_budget_fit_the_partitions(rendered: dict[str, Any], case: str) -> None:
    worker = one(rendered, case, "Deployment", "worker")
    partitions = int(env_of(main_container(worker))["PHI_PARTITIONS"]["value"])
    pod_labels = worker["spec"]["template"]["metadata"]["labels"]
    for hpa in objects(rendered, case, "HorizontalPodAutoscaler"):
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": worker["metadata"]["name"],
        }
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"] <= partitions
        assert "replicas" not in worker["spec"]  # the HPA owns the count
    budget = one(rendered, case, "PodDisruptionBudget", "worker")
    assert matches(budget["spec"]["selector"]["matchLabels"], pod_labels)
    assert budget["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize("case", list(CASES))
def test_network_policy_allows_only_kafka_dns_and_scrapes(rendered: dict[str, Any], case: str) -> None:
    (policy,) = [
        p["spec"]
        for p in objects(rendered, case, "NetworkPolicy")
        if "app.kubernetes.io/component" not in p["metadata"]["labels"]
    ]
    assert sorted(policy["policyTypes"]) == ["Egress", "Ingress"]
    for deployment in objects(rendered, case, "Deployment"):
        assert matches(policy["podSelector"]["matchLabels"], deployment["spec"]["template"]["metadata"]["labels"])
    port = int(env_of(main_container(one(rendered, case, "Deployment", "worker")))["PHI_METRICS_PORT"]["value"])
    (ingress,) = policy["ingress"]
    assert ingress["ports"] == [{"protocol": "TCP", "port": port}]
    (peer,) = ingress["from"]
    assert peer["namespaceSelector"] == {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}
    assert "ipBlock" not in peer
    kafka_rule, dns_rule, *openbao_rule = policy["egress"]
    if case.startswith("reveal_"):  # OpenBao, and nothing else
        assert openbao_rule == [
            {
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "openbao"}}}],
                "ports": [{"protocol": "TCP", "port": 8200}],
            }
        ]
    else:
        assert openbao_rule == []
    for rule in policy["egress"]:
        assert rule.get("to") and rule.get("ports"), "an egress rule without peers or ports allows everything"
    assert sorted((p["protocol"], p["port"]) for p in dns_rule["ports"]) == [("TCP", 53), ("UDP", 53)]
    assert dns_rule["to"][0]["podSelector"] == {"matchLabels": {"k8s-app": "kube-dns"}}
    assert all(p["protocol"] == "TCP" and p["port"] != 53 for p in kafka_rule["ports"])
    if case == "tls_sasl":
        assert kafka_rule["to"] == [{"ipBlock": {"cidr": "10.40.0.0/24"}}]
        assert kafka_rule["ports"] == [{"protocol": "TCP", "port": 9096}]
    else:
        assert kafka_rule["to"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kafka"}}}]
        assert kafka_rule["ports"] == [{"protocol": "TCP", "port": 9092}]


@pytest.mark.parametrize("case", list(CASES))
def test_service_monitor_scrapes_the_metrics_service(rendered: dict[str, Any], case: str) -> None:
    service = one(rendered, case, "Service", "metrics")
    monitor = one(rendered, case, "ServiceMonitor")
    assert matches(monitor["spec"]["selector"]["matchLabels"], service["metadata"]["labels"])
    assert service["spec"]["ports"][0]["name"] == monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert service["spec"]["ports"][0]["targetPort"] == "metrics"
    for deployment in objects(rendered, case, "Deployment"):
        assert matches(service["spec"]["selector"], deployment["spec"]["template"]["metadata"]["labels"])


# ---- alerts and dashboard


@pytest.mark.parametrize("case", list(CASES))
def test_prometheus_rule_holds_the_six_alerts_in_valid_promql(rendered: dict[str, Any], case: str) -> None:
    rule = one(rendered, case, "PrometheusRule")
    rules = [r for group in rule["spec"]["groups"] for r in group["rules"]]
    assert {r["alert"] for r in rules} == ALERTS and len(rules) == len(ALERTS)
    checked = rendered[case]["promql"]
    service = one(rendered, case, "Service", "metrics")["metadata"]["name"]
    for r in rules:
        assert checked[r["alert"]]["error"] is None, (r["alert"], checked[r["alert"]]["error"])
        assert r["labels"]["severity"] in {"critical", "warning"}
        assert r["annotations"]["summary"] and r["annotations"]["description"]
        # every selector is scoped to this release's scrape job
        for selector in re.findall(r"phi_[a-z_]+\{([^}]*)\}", r["expr"]):
            assert f'job="{service}"' in selector and 'namespace="phi"' in selector, r["expr"]
    uses = {name: set(c["metrics"]) for name, c in checked.items()}
    assert uses["PhiHmacFailuresHigh"] == {"phi_hmac_failures_total"}
    assert uses["PhiDeadLetterRatioHigh"] == {"phi_dead_letters_total", "phi_messages_total"}
    assert uses["PhiRevealSpike"] == {"phi_reveals_total"}
    assert uses["PhiRevealBreakGlass"] == {"phi_reveals_total"}
    assert 'outcome="allowed-break-glass"' in by_name_early(rules)["PhiRevealBreakGlass"]
    assert uses["PhiNoProgressWhileLagging"] == {"phi_consumer_lag_messages", "phi_last_progress_timestamp_seconds"}
    assert uses["PhiModelFellBackToCPU"] == {"phi_gpu_expected", "phi_build_info"}
    by_name = {r["alert"]: r["expr"] for r in rules}
    assert 'execution_provider="CPUExecutionProvider"' in by_name["PhiModelFellBackToCPU"]
    assert "== 1" in by_name["PhiModelFellBackToCPU"]
    assert "by (namespace, role)" in by_name["PhiRevealSpike"]
    assert "stage=" not in by_name["PhiDeadLetterRatioHigh"]  # each message is counted once, in its final stage


def by_name_early(rules: list[dict[str, Any]]) -> dict[str, str]:
    return {r["alert"]: r["expr"] for r in rules}


def test_reveal_service_has_its_own_deployment_account_policy_and_openbao_login(rendered: dict[str, Any]) -> None:
    """Issue 16: the reveal service as its own Deployment and ServiceAccount, reachable only by the named
    clients, HTTPS only; workers and reveal log in to OpenBao each with their own role, never a clear key."""
    assert len(objects(rendered, "defaults", "NetworkPolicy")) == 1
    assert not [d for d in objects(rendered, "defaults", "Deployment") if "reveal" in d["metadata"]["name"]]
    for case in ("reveal_openbao", "reveal_approle"):
        reveal = one(rendered, case, "Deployment", "reveal")
        worker = one(rendered, case, "Deployment", "worker")
        spec, container = reveal["spec"]["template"]["spec"], main_container(reveal)
        assert container["args"] == ["reveal-server"]
        account = one(rendered, case, "ServiceAccount", "reveal")
        assert (
            spec["serviceAccountName"]
            == account["metadata"]["name"]
            != worker["spec"]["template"]["spec"]["serviceAccountName"]
        )
        env, worker_env = env_of(container), env_of(main_container(worker))
        assert env["PHI_REVEAL_TLS_CERTFILE"]["value"].startswith("/etc/phi-pipeline/reveal-tls/")
        assert env["PHI_REVEAL_ACCESS_FILE"]["value"] == "/etc/phi-pipeline/reveal-access/access.json"
        assert env["PHI_REVEAL_OIDC_JWKS_URL"]["value"].startswith("https://")
        volumes = {v["name"]: v for v in spec["volumes"]}
        assert volumes["reveal-tls"]["secret"]["secretName"] == "phi-reveal-tls"
        assert volumes["reveal-access"]["secret"]["secretName"] == "phi-reveal-access"
        for e in (env, worker_env):
            assert e["PHI_OPENBAO_ADDR"]["value"] == "https://openbao.openbao.svc:8200"
            assert e["PHI_OPENBAO_CACERT"]["value"] == "/etc/phi-pipeline/openbao/ca.crt"
        if case == "reveal_openbao":
            assert env["PHI_OPENBAO_KUBERNETES_ROLE"]["value"] == "phi-reveal"
            assert worker_env["PHI_OPENBAO_KUBERNETES_ROLE"]["value"] == "phi-worker"
            token = volumes["openbao-sa-token"]["projected"]["sources"][0]["serviceAccountToken"]
            assert token["audience"] == "openbao" and token["expirationSeconds"] <= 3600
        else:
            assert (env["PHI_OPENBAO_ROLE_ID"]["value"], worker_env["PHI_OPENBAO_ROLE_ID"]["value"]) == (
                "reveal-role-id",
                "worker-role-id",
            )
            sources = volumes["openbao"]["projected"]["sources"]
            assert {"name": "phi-reveal-secret-id", "items": [{"key": "secret-id", "path": "secret-id"}]} in [
                s["secret"] for s in sources
            ]
            assert "openbao-sa-token" not in volumes
        # only the named clients reach the HTTPS port; egress adds only the OIDC issuer
        policy = one(rendered, case, "NetworkPolicy", "reveal")["spec"]
        assert matches(policy["podSelector"]["matchLabels"], reveal["spec"]["template"]["metadata"]["labels"])
        assert not matches(policy["podSelector"]["matchLabels"], worker["spec"]["template"]["metadata"]["labels"])
        (ingress,) = policy["ingress"]
        assert ingress["ports"] == [{"protocol": "TCP", "port": 8443}]
        assert ingress["from"][0]["namespaceSelector"]["matchLabels"] == {
            "kubernetes.io/metadata.name": "privacy-office"
        }
        assert policy["egress"] == [
            {"to": [{"ipBlock": {"cidr": "203.0.113.10/32"}}], "ports": [{"protocol": "TCP", "port": 443}]}
        ]
        service = one(rendered, case, "Service", "reveal")
        assert service["spec"]["ports"] == [{"name": "https", "port": 8443, "targetPort": "https", "protocol": "TCP"}]
        # the metrics Service (and so PhiRevealSpike's job selector) covers the reveal pods too
        metrics = one(rendered, case, "Service", "metrics")
        assert matches(metrics["spec"]["selector"], reveal["spec"]["template"]["metadata"]["labels"])


def test_promtool_unit_tests_of_every_alert(rendered: dict[str, Any], tmp_path: Path) -> None:
    """``promtool test rules`` on the rules the chart renders: each alert fires above its threshold and not
    at or below it (monitoring/alerts.test.yaml)."""
    import yaml

    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus; .ci/run installs it)")
    rule = one(rendered, "defaults", "PrometheusRule")
    (tmp_path / "phi-alerts.rules.yaml").write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    cases = yaml.safe_load(ALERT_TESTS.read_text())
    tested = {t["alertname"] for case in cases["tests"] for t in case["alert_rule_test"]}
    firing = {t["alertname"] for case in cases["tests"] for t in case["alert_rule_test"] if t["exp_alerts"]}
    quiet = {t["alertname"] for case in cases["tests"] for t in case["alert_rule_test"] if not t["exp_alerts"]}
    assert tested == firing == quiet == ALERTS, "every alert needs a case that fires and one that does not"
    shutil.copy(ALERT_TESTS, tmp_path / ALERT_TESTS.name)
    run = subprocess.run(
        [promtool, "test", "rules", ALERT_TESTS.name], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_alerts_doc_shows_the_rendered_expressions(rendered: dict[str, Any]) -> None:
    doc = ALERTS_DOC.read_text()
    service = one(rendered, "defaults", "Service", "metrics")["metadata"]["name"]
    rule = one(rendered, "defaults", "PrometheusRule")
    for r in (r for group in rule["spec"]["groups"] for r in group["rules"]):
        assert f"## {r['alert']} ({r['labels']['severity']}" in doc
        shown = r["expr"].replace(f'job="{service}",namespace="phi"', "SEL")
        assert f"```promql\n{shown}\n```" in doc, f"monitoring/alerts.md is out of date for {r['alert']}"


def test_dashboard_queries_parse_and_cover_the_metrics(rendered: dict[str, Any]) -> None:
    checked = rendered["_promql"]
    assert len(checked) >= 15
    used: set[str] = set()
    for label, result in checked.items():
        assert result["error"] is None, (label, result["error"])
        used.update(result["metrics"])
    # histograms are queried through their _bucket/_sum/_count series
    base = {
        re.sub(r"_(bucket|sum|count)$", "", name)
        if name.startswith(("phi_stage_seconds", "phi_model_inference_seconds", "phi_batch_size"))
        else name
        for name in used
    }
    assert base <= METRICS, base - METRICS
    assert METRICS - base == set(), f"metrics without a panel: {METRICS - base}"
    exprs = "\n".join(_dashboard_exprs().values())
    for quantile in ("histogram_quantile(0.5, sum by (le, stage)", "histogram_quantile(0.99, sum by (le, stage)"):
        assert quantile in exprs
    dashboard = json.loads(DASHBOARD.read_text())
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Dead letters by reason", "HMAC failures by reason", "Reveals by role and outcome"} <= titles


def test_a_user_renders_and_lints_the_chart_without_helm(tmp_path: Path) -> None:
    """The README's recipe: render_chart.py -f VALUES prints the manifest, and its problems on stderr."""
    python = _helm_venv()
    good = subprocess.run(
        [str(python), str(RENDER), "-f", str(EXAMPLES / "reveal-openbao.yaml")],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert "kind: Deployment" in good.stdout and "kind: PrometheusRule" in good.stdout
    assert good.stderr.strip().endswith("objects, 0 problems")
    # (refusals of bad values are test_chart_refuses_bad_values' job: the same render, through the fixture)


def test_dockerfile_runs_as_the_charts_user() -> None:
    text = DOCKERFILE.read_text()
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", text, re.M)
    users = re.findall(r"^USER\s+(\S+)", text, re.M)
    assert users and users[-1].split(":")[0] == "10001"
    assert "not built here" in text.lower()
