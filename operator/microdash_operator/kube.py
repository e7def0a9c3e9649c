"""The few Kubernetes calls the operator makes besides kopf's own: token Secrets and Tenant lookups."""

import base64
from dataclasses import dataclass
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


class ForeignSecret(Exception):
    """A Secret of the wanted name exists and does not belong to this Tenant: it is never touched."""


@dataclass(frozen=True)
class StoredSecret:
    token: str | None
    rotation: int | None  # the spec.tokenRotation the token answers
    owner_uid: str | None  # the Tenant that controls it


def read_secret(namespace: str, name: str) -> StoredSecret | None:
    try:
        secret = _core().read_namespaced_secret(name, namespace)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return None
        raise
    encoded = (secret.data or {}).get(TOKEN_KEY)
    rotation = (secret.metadata.annotations or {}).get(ROTATION_ANNOTATION)
    controller = next((ref.uid for ref in secret.metadata.owner_references or [] if ref.controller), None)
    return StoredSecret(base64.b64decode(encoded).decode() if encoded else None,
                        int(rotation) if rotation and rotation.isdigit() else None, controller)


def write_secret(namespace: str, name: str, values: dict[str, str], *, owner: dict, annotations: dict[str, str]) -> None:
    """Create the Secret, or replace the data of the one this Tenant owns (garbage-collected with it)."""
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
        existing = read_secret(namespace, name)
        if existing is not None and existing.owner_uid != owner["uid"]:
            raise ForeignSecret(f"Secret {name} exists and is not owned by this Tenant") from exc
        _core().patch_namespaced_secret(name, namespace, {"metadata": body["metadata"], "stringData": values})


def delete_secret(namespace: str, name: str, *, owner_uid: str) -> None:
    """Delete the Secret if this Tenant owns it (a same-named Secret of someone else stays)."""
    existing = read_secret(namespace, name)
    if existing is None or existing.owner_uid != owner_uid:
        return
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
