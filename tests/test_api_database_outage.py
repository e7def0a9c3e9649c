"""A MariaDB the api's pool cannot reach is a 503 (retry), never a 500 or a 401: on the token lookup
and on a query's reads. In-process against the real stack's Redis; the unreachable database is a
port nothing listens on."""

import asyncio

import httpx

from microdash_api.app import create_app
from microdash_api.sql import open_pool
from microdash_cli.localstack import free_port
from microdash_core.db import DatabaseAddress

QUERY = {"metric": "m", "resolution": "raw"}


def _unreachable(stack) -> str:
    address = DatabaseAddress.from_url(stack.settings.database_url)
    return f"mysql://{address.user}@127.0.0.1:{free_port()}/{address.database}"


async def _answers(app, token: str, *, then=None) -> list[httpx.Response]:
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api",
            headers={"Authorization": f"Bearer {token}"}) as api:
        answers = [await api.get("/api/v1/query", params=QUERY)]
        if then is not None:
            await then(app.state.microdash)
            answers.append(await api.get("/api/v1/query", params=QUERY))
            answers.append(await api.get("/api/v1/series", params={"metric": "m"}))
        return answers


def test_a_token_lookup_without_the_database_is_503(stack):
    _, token = stack.new_tenant()
    app = create_app(stack.settings.model_copy(update={"database_url": _unreachable(stack)}))
    refused, = asyncio.run(_answers(app, token))
    assert refused.status_code == 503, refused.text


def test_a_query_whose_reads_cannot_reach_the_database_is_503(stack):
    """The token is cached by the first query; then the pool points at no database."""
    _, token = stack.new_tenant()

    async def lose_the_database(state) -> None:
        reachable = state.db
        state.db = await open_pool(DatabaseAddress.from_url(_unreachable(stack)))
        reachable.close()
        await reachable.wait_closed()

    answered, query, series = asyncio.run(_answers(create_app(stack.settings), token, then=lose_the_database))
    assert answered.status_code == 200, answered.text
    assert query.status_code == 503, query.text
    assert series.status_code == 503, series.text
