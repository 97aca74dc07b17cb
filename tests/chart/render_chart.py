"""Render a Helm chart with Helm's own library and validate every object against Kubernetes schemas.

Runs under Python 3.12 in the helper virtualenv (``.venv-helm``, made by ``tests/chart/test_helm_chart.py``),
because ``helm-sdkpy`` (Helm v4 compiled into a shared library) needs 3.12 while the project's suite runs on 3.11.

Why a stub API server: ``helm-sdkpy`` exposes Helm's *install* action but no ``helm template`` / dry run.
Install renders the chart exactly as ``helm template`` would, then talks to a cluster: version and discovery
(to build ``.Capabilities`` and map kinds to resources), a GET per object (404: nothing to adopt) and a POST
per object. This script answers those calls from a loopback-only HTTP server in the same process, with
``HELM_DRIVER=memory`` so the release record never leaves memory, then reads the rendered manifest and the
NOTES.txt text from the release Helm returns. Nothing leaves 127.0.0.1 and nothing touches a real cluster.

Validation is offline:

* built-in kinds: ``kubernetes-validate`` ships the Kubernetes JSON schemas per minor version; the *strict*
  variant forbids unknown fields, so a misspelt key (``readOnlyRootFileSystem``) is an error, not a no-op;
* ``monitoring.coreos.com/v1`` (ServiceMonitor, PrometheusRule): ``cloudcoil-models-prometheus-operator``
  ships pydantic models generated from the prometheus-operator CRDs; an object is validated with them and any
  key the model does not know is reported as an unknown field.

PromQL: every ``expr`` of a rendered PrometheusRule (and any extra expressions sent in, e.g. the Grafana
dashboard's) is parsed with ``promql-parser`` (the Rust PromQL parser), which also lists the metrics used.

Input (stdin, JSON)::

    {"chart": PATH, "kube_version": "1.33.0",
     "cases": {NAME: {"values_files": [PATH, ...], "values": {...}}},   # files first, then values, deep-merged
     "promql": {LABEL: EXPR, ...},                                      # optional extra expressions
     "validate": [OBJECT, ...]}                                         # optional objects to validate alone

Output (stdout, JSON)::

    {NAME: {"objects": [...], "notes": str, "errors": [str, ...], "requests": [...],
            "promql": {ALERT: {"error": str | None, "metrics": [...]}}},
     "_lint": Helm's lint result for the default values,
     "_promql": {LABEL: {"error": ..., "metrics": [...]}}, "_validate": [[str, ...], ...]}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import yaml

# kind -> (group, version, plural, namespaced); the kinds the stub cluster knows
KINDS: dict[str, tuple[str, str, str, bool]] = {
    "Namespace": ("", "v1", "namespaces", False),
    "ServiceAccount": ("", "v1", "serviceaccounts", True),
    "Secret": ("", "v1", "secrets", True),
    "ConfigMap": ("", "v1", "configmaps", True),
    "Service": ("", "v1", "services", True),
    "Pod": ("", "v1", "pods", True),
    "Deployment": ("apps", "v1", "deployments", True),
    "HorizontalPodAutoscaler": ("autoscaling", "v2", "horizontalpodautoscalers", True),
    "PodDisruptionBudget": ("policy", "v1", "poddisruptionbudgets", True),
    "NetworkPolicy": ("networking.k8s.io", "v1", "networkpolicies", True),
    "ServiceMonitor": ("monitoring.coreos.com", "v1", "servicemonitors", True),
    "PrometheusRule": ("monitoring.coreos.com", "v1", "prometheusrules", True),
}


def _resource_lists() -> dict[str, dict[str, Any]]:
    """Discovery documents keyed by URL path: /api/v1 and /apis/GROUP/VERSION."""
    lists: dict[str, dict[str, Any]] = {}
    for kind, (group, version, plural, namespaced) in KINDS.items():
        group_version = f"{group}/{version}" if group else version
        path = f"/apis/{group_version}" if group else f"/api/{version}"
        doc = lists.setdefault(
            path, {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": []}
        )
        doc["resources"].append(
            {
                "name": plural,
                "singularName": kind.lower(),
                "namespaced": namespaced,
                "kind": kind,
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"],
            }
        )
    return lists


def _group_list() -> dict[str, Any]:
    groups: dict[str, list[str]] = {}
    for group, version, _plural, _namespaced in KINDS.values():
        if group:
            groups.setdefault(group, [])
            if version not in groups[group]:
                groups[group].append(version)
    return {
        "kind": "APIGroupList",
        "apiVersion": "v1",
        "groups": [
            {
                "name": name,
                "versions": [{"groupVersion": f"{name}/{v}", "version": v} for v in versions],
                "preferredVersion": {"groupVersion": f"{name}/{versions[0]}", "version": versions[0]},
            }
            for name, versions in groups.items()
        ],
    }


class StubCluster:
    """A loopback HTTP server that answers the API calls Helm's install makes, and records the objects."""

    def __init__(self, kube_version: str) -> None:
        major, minor, _patch = kube_version.split(".")
        self.version = {
            "major": major,
            "minor": minor,
            "gitVersion": f"v{kube_version}",
            "gitCommit": "0" * 40,
            "gitTreeState": "clean",
            "buildDate": "2025-01-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        }
        self.resource_lists = _resource_lists()
        self.group_list = _group_list()
        self.created: list[dict[str, Any]] = []
        self.requests: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> StubCluster:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def kubeconfig(self, namespace: str) -> str:
        return yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "stub", "cluster": {"server": self.url}}],
                "users": [{"name": "stub", "user": {"token": "stub"}}],
                "contexts": [{"name": "stub", "context": {"cluster": "stub", "user": "stub", "namespace": namespace}}],
                "current-context": "stub",
            }
        )

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        cluster = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _not_found(self) -> None:
                self._send(
                    404,
                    {
                        "kind": "Status",
                        "apiVersion": "v1",
                        "status": "Failure",
                        "reason": "NotFound",
                        "code": 404,
                        "message": f"{self.path} not found",
                    },
                )

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                with cluster.lock:
                    cluster.requests.append(f"GET {path}")
                if path == "/version":
                    self._send(200, cluster.version)
                elif path == "/api":
                    self._send(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []})
                elif path == "/apis":
                    self._send(200, cluster.group_list)
                elif path in cluster.resource_lists:
                    self._send(200, cluster.resource_lists[path])
                else:
                    self._not_found()

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                meta = body.setdefault("metadata", {})
                meta.setdefault("uid", str(uuid.uuid4()))
                meta.setdefault("resourceVersion", "1")
                meta.setdefault("creationTimestamp", "2025-01-01T00:00:00Z")
                with cluster.lock:
                    cluster.requests.append(f"POST {path}")
                    cluster.created.append(body)
                self._send(201, body)

            def _refuse(self) -> None:
                path = self.path.split("?", 1)[0]
                with cluster.lock:
                    cluster.requests.append(f"{self.command} {path}")
                self._send(405, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 405})

            do_PUT = do_PATCH = do_DELETE = _refuse

        return Handler


def render(cluster: StubCluster, chart: str, release: str, namespace: str, values: dict[str, Any]) -> dict[str, Any]:
    """Install ``chart`` into the stub cluster and return the release as Helm reports it."""
    import helm_sdkpy  # imported late: loading the Go library takes a moment

    config = helm_sdkpy.Configuration(namespace=namespace, kubeconfig=cluster.kubeconfig(namespace))
    install = helm_sdkpy.Install(config)
    return asyncio.run(install.run(release, chart, values=values, wait=False, timeout=60))


def lint(cluster: StubCluster, chart: str) -> dict[str, Any]:
    import helm_sdkpy

    config = helm_sdkpy.Configuration(namespace="default", kubeconfig=cluster.kubeconfig("default"))
    return asyncio.run(helm_sdkpy.Lint(config).run(chart))


def _unknown_fields(given: Any, known: Any, where: str) -> list[str]:
    """Keys present in ``given`` but dropped by the model's round trip: fields the schema does not define."""
    problems: list[str] = []
    if isinstance(given, dict) and isinstance(known, dict):
        for key, value in given.items():
            if key not in known:
                problems.append(f"{where}.{key}: unknown field")
            else:
                problems.extend(_unknown_fields(value, known[key], f"{where}.{key}"))
    elif isinstance(given, list) and isinstance(known, list):
        for index, (item, kept) in enumerate(zip(given, known, strict=False)):
            problems.extend(_unknown_fields(item, kept, f"{where}[{index}]"))
    return problems


def validate(obj: dict[str, Any], kube_version: str) -> list[str]:
    """Every schema problem of one object, as 'Kind/name: message' lines (empty when valid)."""
    import kubernetes_validate

    label = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
    if obj.get("apiVersion") == "monitoring.coreos.com/v1":
        import pydantic
        from cloudcoil.models.prometheus_operator import v1 as prom

        model = {"ServiceMonitor": prom.ServiceMonitor, "PrometheusRule": prom.PrometheusRule}.get(obj["kind"])
        if model is None:
            return [f"{label}: no schema for this monitoring.coreos.com/v1 kind"]
        try:
            parsed = model.model_validate(obj)
        except pydantic.ValidationError as exc:
            return [f"{label}: {err['loc']}: {err['msg']}" for err in exc.errors()]
        kept = parsed.model_dump(by_alias=True, exclude_unset=True, mode="json")
        return [f"{label}: {problem}" for problem in _unknown_fields(obj, kept, "")]
    try:
        kubernetes_validate.validate(obj, kube_version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.absolute_path)
        return [f"{label}: .{path}: {exc.message}"]
    except kubernetes_validate.SchemaNotFoundError as exc:
        return [f"{label}: {exc.message}"]
    return []


def merge_values(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge like Helm does for ``-f a.yaml -f b.yaml``: maps merge, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_values(merged[key], value)
        else:
            merged[key] = value
    return merged


def case_values(case: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in case.get("values_files", []):
        with open(path, encoding="utf-8") as fh:
            values = merge_values(values, yaml.safe_load(fh) or {})
    return merge_values(values, case.get("values") or {})


def check_promql(expr: str) -> dict[str, Any]:
    """Parse one PromQL expression: the parser's error, or the metric names it selects."""
    import promql_parser

    try:
        tree = promql_parser.parse(expr)
    except ValueError as exc:
        return {"error": str(exc), "metrics": []}
    names: list[str] = []

    def visit(node: Any, *_: Any) -> bool:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            names.append(node.name)
        return True

    promql_parser.walk(tree, visit)
    return {"error": None, "metrics": sorted(set(names))}


def rule_promql(objects: list[dict[str, Any]]) -> dict[str, Any]:
    checked: dict[str, Any] = {}
    for obj in objects:
        if obj.get("kind") != "PrometheusRule":
            continue
        for group in obj.get("spec", {}).get("groups", []):
            for rule in group.get("rules", []):
                name = rule.get("alert") or rule.get("record") or "?"
                checked[name] = check_promql(str(rule.get("expr", "")))
    return checked


def main() -> int:
    if os.environ.get("HELM_DRIVER") != "memory":
        # Go inside a shared library reads the environment the process started with, not os.environ:
        # start again with Helm's settings in place. stdin is unread, so the request passes through.
        scratch = tempfile.mkdtemp(prefix="helm-render-")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBE"))}
        # Helm's caches and the kube discovery cache go to a scratch folder, never to $HOME
        for name in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME", "KUBECACHEDIR"):
            env[name] = os.path.join(scratch, name.lower())
        env["HELM_DRIVER"] = "memory"  # the release record stays in memory: no Secret is written anywhere
        os.execve(sys.executable, [sys.executable, os.path.abspath(__file__), *sys.argv[1:]], env)  # noqa: S606
    if sys.argv[1:]:
        return render_for_a_user(sys.argv[1:])
    request = json.load(sys.stdin)
    chart = os.path.abspath(request["chart"])
    kube_version = request.get("kube_version", "1.33.0")

    out: dict[str, Any] = {}
    with StubCluster(kube_version) as cluster:
        out["_lint"] = lint(cluster, chart)
        for name, case in request["cases"].items():
            with cluster.lock:
                cluster.created.clear()
                cluster.requests.clear()
            release = case.get("release", "phi")
            namespace = case.get("namespace", "phi")
            try:
                result = render(cluster, chart, release, namespace, case_values(case))
            except Exception as exc:  # reported to the test, which fails with Helm's message
                out[name] = {
                    "objects": [],
                    "notes": "",
                    "errors": [f"helm install failed: {exc}"],
                    "requests": [],
                    "promql": {},
                }
                continue
            objects = [doc for doc in yaml.safe_load_all(result.get("manifest", "")) if doc]
            errors: list[str] = []
            for obj in objects:
                errors.extend(validate(obj, kube_version))
            with cluster.lock:
                posted = sorted(f"{o.get('kind')}/{o.get('metadata', {}).get('name')}" for o in cluster.created)
                requests = list(cluster.requests)
            rendered = sorted(f"{o.get('kind')}/{o.get('metadata', {}).get('name')}" for o in objects)
            if posted != rendered:
                errors.append(f"objects sent to the API server {posted} differ from the manifest {rendered}")
            out[name] = {
                "objects": objects,
                "notes": (result.get("info") or {}).get("notes", ""),
                "errors": errors,
                "requests": requests,
                "promql": rule_promql(objects),
            }
    out["_promql"] = {label: check_promql(expr) for label, expr in request.get("promql", {}).items()}
    out["_validate"] = [validate(obj, kube_version) for obj in request.get("validate", [])]
    json.dump(out, sys.stdout)
    return 0


def render_for_a_user(argv: list[str]) -> int:
    """``helm lint`` and ``helm template`` for whoever has no ``helm``: the manifest on standard output, Helm's
    lint messages and every schema or PromQL problem on standard error; status 1 when there is a problem."""
    parser = argparse.ArgumentParser(
        prog="render_chart.py", description="render and lint the chart with Helm's library (no cluster, no helm)"
    )
    parser.add_argument("--chart", default=os.path.join(os.path.dirname(__file__), "..", "..", "helm", "phi-pipeline"))
    parser.add_argument("-f", "--values", action="append", default=[], help="a values file (repeat: later wins)")
    parser.add_argument("--release", default="phi")
    parser.add_argument("--namespace", default="phi")
    parser.add_argument("--kube-version", default="1.33.0")
    args = parser.parse_args(argv)
    chart = os.path.abspath(args.chart)
    problems: list[str] = []
    with StubCluster(args.kube_version) as cluster:
        linted = lint(cluster, chart)
        problems += [f"lint: {m.get('Err') or m}" for m in linted.get("Messages") or [] if m.get("Severity", 0) >= 2]
        try:
            result = render(cluster, chart, args.release, args.namespace, case_values({"values_files": args.values}))
        except Exception as exc:  # Helm's own message: a failed check or a required value
            print(f"render failed: {exc}", file=sys.stderr)
            return 1
    manifest = result.get("manifest", "")
    objects = [doc for doc in yaml.safe_load_all(manifest) if doc]
    for obj in objects:
        problems += validate(obj, args.kube_version)
    problems += [f"{alert}: {r['error']}" for alert, r in rule_promql(objects).items() if r["error"]]
    sys.stdout.write(manifest)
    for problem in problems:
        print(problem, file=sys.stderr)
    print(f"{len(objects)} objects, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
