"""The wire contract: the api's OpenAPI document as committed in contract/openapi.json.

The frontend's types are generated from that file and the agent's output is checked against it,
so it is rendered the same way every time (sorted keys, two-space indent, one final newline) and
from an app that is built but never started: no database, Redis or settings of this machine shape it.
"""

import json
from pathlib import Path

from fastapi import FastAPI

from microdash_core.settings import Settings

from .app import create_app

COMMITTED = Path(__file__).resolve().parents[2] / "contract" / "openapi.json"
# Never connected to: create_app only keeps them for the lifespan, which is not run here.
_UNUSED_DATABASE = "mysql://contract:contract@127.0.0.1:1/contract"
_UNUSED_REDIS = "redis://127.0.0.1:1/0"


def build_inert_app() -> FastAPI:
    return create_app(Settings(database_url=_UNUSED_DATABASE, redis_url=_UNUSED_REDIS, metrics_port=None))


def openapi_document() -> dict:
    return build_inert_app().openapi()


def render(document: dict) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
