"""`microdash operator`: run the kopf operator over every namespace (one replica; see docs/decisions.md)."""

import kopf

from microdash_core.settings import Settings

from .handlers import register


def run_operator(settings: Settings, *, namespaces: list[str] | None = None, liveness_endpoint: str | None = None) -> None:
    registry = kopf.OperatorRegistry()
    register(registry, settings)
    kopf.run(registry=registry, standalone=True, clusterwide=not namespaces, namespaces=namespaces or (),
             liveness_endpoint=liveness_endpoint)
