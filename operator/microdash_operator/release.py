"""Before `helm uninstall` (the chart's pre-delete hook Job): hand every Tenant and AlertRule over
so that nothing is left waiting for an operator that the uninstall is about to delete.

1. The release's own resources (Helm's release annotations) are deleted, and the operator, still
   running, retires them and any others already being deleted: tokens revoked, MQTT access
   removed, data kept or deleted by each Tenant's deletionPolicy.
2. The operator is scaled to zero and its pods are waited for: a running operator would put its
   finalizer straight back.
3. The finalizer comes off every other Tenant and AlertRule. They stay, with their tenants' data
   and tokens; a reinstall's operator takes them up again (it resumes every resource it finds).
"""

import logging
import time
from dataclasses import dataclass, field

import kubernetes
import urllib3

from . import kube
from .specs import GROUP, VERSION

log = logging.getLogger(__name__)

FINALIZER = f"{GROUP}/finalizer"
KINDS = {"Tenant": "tenants", "AlertRule": "alertrules"}
RELEASE_NAME = "meta.helm.sh/release-name"
RELEASE_NAMESPACE = "meta.helm.sh/release-namespace"
POLL_SECONDS = 1.0


class ReleaseNotRetired(Exception):
    """The operator did not finish in time; what is left is named in the message."""


@dataclass
class Retirement:
    retired: list[str] = field(default_factory=list)  # "Tenant ns/name", deleted through the operator
    detached: list[str] = field(default_factory=list)  # left in place without the operator's finalizer


def retire_release(namespace: str, release: str, operator_deployment: str, *, timeout: float,
                   watched: list[str] = ()) -> Retirement:
    """The three steps above, within `timeout` seconds, in the namespaces the operator watches
    (`watched`, as its --namespace options; none: every namespace)."""
    deadline = time.monotonic() + timeout
    everything = _Listing(list(watched))
    try:
        outcome = Retirement(retired=_delete_release_resources(everything, namespace, release))
        _wait(deadline, lambda: _being_retired(everything), "the operator to retire")
        _stop_operator(namespace, operator_deployment, deadline)
        outcome.detached = _detach_the_rest(everything, deadline)
    except kubernetes.client.ApiException as exc:
        raise ReleaseNotRetired(f"the Kubernetes API answered {exc.status} {exc.reason}: {exc.body}") from exc
    except urllib3.exceptions.HTTPError as exc:
        raise ReleaseNotRetired(f"the Kubernetes API is unreachable: {exc}") from exc
    return outcome


def _custom() -> kubernetes.client.CustomObjectsApi:
    return kubernetes.client.CustomObjectsApi(kube.api_client())


class _Listing:
    """Every Tenant and AlertRule of the watched namespaces (all when none is named)."""

    def __init__(self, namespaces: list[str]):
        self.namespaces = namespaces

    def __call__(self) -> list[tuple[str, dict]]:
        return [(kind, item) for kind, plural in KINDS.items() for item in self._list(plural)]

    def _list(self, plural: str) -> list[dict]:
        if not self.namespaces:
            return _custom().list_cluster_custom_object(GROUP, VERSION, plural)["items"]
        return [item for namespace in self.namespaces
                for item in _custom().list_namespaced_custom_object(GROUP, VERSION, namespace, plural)["items"]]


def _label(kind: str, item: dict) -> str:
    return f"{kind} {item['metadata']['namespace']}/{item['metadata']['name']}"


def _of_release(item: dict, namespace: str, release: str) -> bool:
    annotations = item["metadata"].get("annotations") or {}
    return annotations.get(RELEASE_NAME) == release and annotations.get(RELEASE_NAMESPACE) == namespace


def _delete_release_resources(everything: _Listing, namespace: str, release: str) -> list[str]:
    deleted = []
    for kind, item in everything():
        if _of_release(item, namespace, release):
            _ignore_gone(_custom().delete_namespaced_custom_object, GROUP, VERSION, namespace, KINDS[kind],
                         item["metadata"]["name"])
            deleted.append(_label(kind, item))
            log.info("deleted %s, for the operator to retire", _label(kind, item))
    return deleted


def _being_retired(everything: _Listing) -> list[str]:
    """Deleted resources still holding the operator's finalizer."""
    return [_label(kind, item) for kind, item in everything()
            if item["metadata"].get("deletionTimestamp") and FINALIZER in (item["metadata"].get("finalizers") or [])]


def _stop_operator(namespace: str, name: str, deadline: float) -> None:
    apps = kubernetes.client.AppsV1Api(kube.api_client())
    try:
        deployment = apps.read_namespaced_deployment(name, namespace)
    except kubernetes.client.ApiException as exc:
        if exc.status == 404:
            return
        raise
    apps.patch_namespaced_deployment_scale(name, namespace, {"spec": {"replicas": 0}})
    selector = ",".join(f"{key}={value}" for key, value in deployment.spec.selector.match_labels.items())
    core = kubernetes.client.CoreV1Api(kube.api_client())
    _wait(deadline, lambda: [f"Pod {namespace}/{pod.metadata.name}"
                             for pod in core.list_namespaced_pod(namespace, label_selector=selector).items],
          "the operator's pods to stop")
    log.info("operator %s/%s stopped", namespace, name)


def _detach_the_rest(everything: _Listing, deadline: float) -> list[str]:
    detached: set[str] = set()

    def still_attached() -> list[str]:
        attached = [(kind, item) for kind, item in everything()
                    if FINALIZER in (item["metadata"].get("finalizers") or [])]
        for kind, item in attached:
            _take_finalizer_off(kind, item)
            detached.add(_label(kind, item))
        return [_label(kind, item) for kind, item in attached]

    _wait(deadline, still_attached, "the operator's finalizer to come off", poll=0.2)
    return sorted(detached)


def _take_finalizer_off(kind: str, item: dict) -> None:
    metadata = item["metadata"]
    # the resourceVersion makes it a compare-and-swap: a conflicting change is read again next round
    patch = {"metadata": {"resourceVersion": metadata["resourceVersion"],
                          "finalizers": [name for name in metadata["finalizers"] if name != FINALIZER]}}
    try:
        _custom().patch_namespaced_custom_object(GROUP, VERSION, metadata["namespace"], KINDS[kind],
                                                 metadata["name"], patch)
    except kubernetes.client.ApiException as exc:
        if exc.status not in (404, 409):
            raise
        return
    log.info("took the operator's finalizer off %s", _label(kind, item))


def _wait(deadline: float, remaining, what: str, *, poll: float = POLL_SECONDS) -> None:
    while left := remaining():
        if time.monotonic() > deadline:
            raise ReleaseNotRetired(f"timed out waiting for {what}: {', '.join(left)}")
        time.sleep(poll)


def _ignore_gone(call, *args) -> None:
    try:
        call(*args)
    except kubernetes.client.ApiException as exc:
        if exc.status != 404:
            raise
