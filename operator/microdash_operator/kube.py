"""The few Kubernetes calls the operator makes besides kopf's own: token Secrets and Tenant lookups."""

import base64
from functools import lru_cache

import kubernetes

from .specs import GROUP, VERSION

TOKEN_KEY = "token"
ROTATION_ANNOTATION = "microdash.io/token-rotation"


@lru_cache(maxsize=1)
def api_client() -> kubernetes.client.ApiClient:
    """In a pod: its ServiceAccount; elsewhere: the kubeconfig (KUBECONFIG or ~/.kube/config)."""
    try:
        kubernetes.config.load_incluster_config()
    except kubernetes.config.ConfigException:
        kubernetes.config.load_kube_config()
    return kubernetes.client.ApiClient()


def _core() -> kubernetes.client.CoreV1Api:
    return kubernetes.client.CoreV1Api(api_client())


def read_secret_token(namespace: str, name: str) -> tuple[str | None, int | None]:
    """The token stored in the Secret and the token rotation it answers; (None, None) when the
    Secret (or its token) does not exist."""
    try:
        secret = _core().read_namespaced_secret(name, namespace)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None, None
        raise
    encoded = (secret.data or {}).get(TOKEN_KEY)
    if not encoded:
        return None, None
    rotation = (secret.metadata.annotations or {}).get(ROTATION_ANNOTATION)
    return base64.b64decode(encoded).decode(), int(rotation) if rotation and rotation.isdigit() else None


def write_secret(namespace: str, name: str, values: dict[str, str], *, owner: dict, annotations: dict[str, str]) -> None:
    """Create or replace the Secret's data; the Secret is owned by the Tenant (garbage-collected with it)."""
    body = {
        "apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "microdash-operator"},
                     "annotations": annotations, "ownerReferences": [owner]},
        "stringData": values,
    }
    try:
        _core().create_namespaced_secret(namespace, body)
    except kubernetes.client.ApiException as exc:
        if exc.status != 409:
            raise
        _core().patch_namespaced_secret(name, namespace, {"metadata": body["metadata"], "stringData": values})


def delete_secret(namespace: str, name: str) -> None:
    try:
        _core().delete_namespaced_secret(name, namespace)
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            raise


def read_tenant(namespace: str, name: str) -> dict | None:
    try:
        return kubernetes.client.CustomObjectsApi(api_client()).get_namespaced_custom_object(
            GROUP, VERSION, namespace, "tenants", name)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise


def owner_reference(body) -> dict:
    return {"apiVersion": body["apiVersion"], "kind": body["kind"], "name": body["metadata"]["name"],
            "uid": body["metadata"]["uid"], "controller": True}
