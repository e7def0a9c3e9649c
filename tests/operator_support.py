"""Running the operator in tests: installed CRDs, the chart's RBAC identity, an operator process,
and small helpers to apply resources and wait for what the operator does."""

import copy
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import kubernetes
import yaml

from kubeapi import REPO, ControlPlane
from microdash_cli.localstack import start_component

GROUP, VERSION = "microdash.io", "v1alpha1"
PLURALS = {"Tenant": "tenants", "AlertRule": "alertrules"}
# Short timings so that retries, drift repair and status refresh show within seconds.
OPERATOR_TEST_ENV = {
    "MICRODASH_OPERATOR_RESYNC_SECONDS": "2",
    "MICRODASH_OPERATOR_RETRY_SECONDS": "1",
    "MICRODASH_OPERATOR_STATUS_SECONDS": "1",
}


def install_crds(plane: ControlPlane) -> None:
    """Apply crds/ (idempotent) and wait until the API server serves them."""
    with plane.api_client() as client:
        extensions = kubernetes.client.ApiextensionsV1Api(client)
        for path in sorted((REPO / "crds").glob("*.yaml")):
            manifest = yaml.safe_load(path.read_text())
            try:
                extensions.create_custom_resource_definition(manifest)
            except kubernetes.client.ApiException as exc:
                if exc.status != 409:
                    raise
                current = extensions.read_custom_resource_definition(manifest["metadata"]["name"])
                manifest["metadata"]["resourceVersion"] = current.metadata.resource_version
                extensions.replace_custom_resource_definition(manifest["metadata"]["name"], manifest)
        names = [yaml.safe_load(path.read_text())["metadata"]["name"] for path in (REPO / "crds").glob("*.yaml")]
        wait_for(lambda: all(_established(extensions, name) for name in names), what="CRDs established")


def _established(extensions, name: str) -> bool:
    conditions = extensions.read_custom_resource_definition(name).status.conditions or []
    return any(c.type == "Established" and c.status == "True" for c in conditions)


def chart_rbac(plane: ControlPlane, namespace: str, *helm_args: str) -> list[dict]:
    """The operator's ServiceAccount, ClusterRole, Roles and bindings exactly as the chart renders them."""
    rendered = plane.helm("template", f"op-{namespace}", str(REPO / "charts" / "microdash"), "--namespace", namespace,
                          "--kube-version", "1.35.4", "--show-only", "templates/operator/rbac.yaml", *helm_args).stdout
    return [document for document in yaml.safe_load_all(rendered) if document]


def operator_identity(plane: ControlPlane, namespace: str, workdir: Path, *helm_args: str) -> Path:
    """Create the chart's operator RBAC objects, get a token for its ServiceAccount from the
    TokenRequest API, and write a kubeconfig holding only that token."""
    service_account = None
    with plane.api_client() as client:
        for document in chart_rbac(plane, namespace, *helm_args):
            kubernetes.utils.create_from_dict(client, document, namespace=namespace)
            if document["kind"] == "ServiceAccount":
                service_account = document["metadata"]["name"]
    return service_account_kubeconfig(plane, namespace, service_account, workdir / "operator.kubeconfig")


def service_account_kubeconfig(plane: ControlPlane, namespace: str, service_account: str, path: Path) -> Path:
    """A kubeconfig holding only a TokenRequest token of the ServiceAccount: what its pods would get."""
    with plane.api_client() as client:
        token = kubernetes.client.CoreV1Api(client).create_namespaced_service_account_token(
            service_account, namespace, {"spec": {"expirationSeconds": 24 * 3600}}).status.token
    config = yaml.safe_load(plane.kubeconfig.read_text())
    config["users"] = [{"name": "admin", "user": {"token": token}}]
    path.write_text(yaml.safe_dump(config))
    return path


@dataclass
class OperatorProcess:
    process: subprocess.Popen
    log_path: Path

    def stop(self, *, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def records(self) -> list[dict]:
        """The JSON log lines so far (other output, such as a crash's traceback, is skipped)."""
        return [json.loads(line) for line in self.log().splitlines() if line.startswith("{")]

    def object_records(self, kind: str, name: str) -> list[dict]:
        """kopf's per-object log lines about one resource."""
        return [record for record in self.records()
                if record.get("object", {}).get("kind") == kind and record["object"].get("name") == name]


def start_operator(stack_env: dict, kubeconfig: Path, log_path: Path, *, namespaces: list[str] = (),
                   liveness_port: int | None = None, log_format: str = "json") -> OperatorProcess:
    """JSON logs by default, as the chart runs it (OperatorProcess.records reads them)."""
    env = {**stack_env, **OPERATOR_TEST_ENV, "KUBECONFIG": str(kubeconfig), "MICRODASH_LOG_FORMAT": log_format}
    args = ["operator", *[part for namespace in namespaces for part in ("--namespace", namespace)]]
    if liveness_port is not None:
        args += ["--liveness", f"http://127.0.0.1:{liveness_port}/healthz"]
    return OperatorProcess(start_component(args, env, log_path), log_path)


class Resources:
    """Custom resources as an admin sees them (kubectl apply / get / patch / delete)."""

    def __init__(self, client: kubernetes.client.ApiClient, namespace: str):
        self.api = kubernetes.client.CustomObjectsApi(client)
        self.core = kubernetes.client.CoreV1Api(client)
        self.namespace = namespace

    def create(self, manifest: dict) -> dict:
        manifest = copy.deepcopy(manifest)
        manifest.setdefault("apiVersion", f"{GROUP}/{VERSION}")
        return self.api.create_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[manifest["kind"]],
                                                        manifest)

    def get(self, kind: str, name: str) -> dict | None:
        try:
            return self.api.get_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def patch_spec(self, kind: str, name: str, spec: dict) -> dict:
        return self.api.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name,
                                                       {"spec": spec})

    def delete(self, kind: str, name: str) -> None:
        self.api.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURALS[kind], name)

    def status(self, kind: str, name: str) -> dict:
        return (self.get(kind, name) or {}).get("status") or {}

    def condition(self, kind: str, name: str, condition_type: str) -> dict:
        return next((c for c in self.status(kind, name).get("conditions", []) if c["type"] == condition_type), {})

    def wait_ready(self, kind: str, name: str, timeout: float = 30) -> dict:
        wait_for(lambda: self.condition(kind, name, "Ready").get("status") == "True", timeout=timeout,
                 what=f"{kind} {name} Ready", detail=lambda: self.status(kind, name))
        return self.status(kind, name)

    def wait_gone(self, kind: str, name: str, timeout: float = 30) -> None:
        wait_for(lambda: self.get(kind, name) is None, timeout=timeout, what=f"{kind} {name} deleted",
                 detail=lambda: self.get(kind, name))

    def secret(self, name: str) -> dict[str, str] | None:
        import base64

        try:
            secret = self.core.read_namespaced_secret(name, self.namespace)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return {key: base64.b64decode(value).decode() for key, value in (secret.data or {}).items()}

    def event_reasons(self, name: str) -> list[str]:
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        return [event.reason for event in events.items]


def example(file: str, *, name: str, **spec) -> dict:
    """A manifest from docs/examples, renamed, with spec fields overridden."""
    manifest = yaml.safe_load((REPO / "docs" / "examples" / f"{file}.yaml").read_text())
    manifest["metadata"]["name"] = name
    manifest["spec"].update(spec)
    return manifest


def wait_for(predicate, *, timeout: float = 30, what: str = "condition", detail=None, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                                 + (f": {detail()}" if detail else ""))
        time.sleep(interval)
