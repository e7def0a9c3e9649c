"""How the api builds its JSON responses, in-process against the real stack's MariaDB and Redis."""

import asyncio
import warnings

import httpx

from microdash_api.app import create_app


async def _answers(stack, token: str) -> list[httpx.Response]:
    app = create_app(stack.settings)
    async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://api") as api:
        return [await api.get("/healthz"),  # a typed route: FastAPI's own serialiser
                await api.get("/api/v1/query", params={"metric": "m"}),  # an ApiError, built by hand
                await api.get("/api/v1/query", params={"metric": "m"},  # a query result, built by hand too
                              headers={"Authorization": f"Bearer {token}"})]


def test_the_api_answers_without_deprecation_warnings(stack):
    """FastAPI deprecated ORJSONResponse: instantiating it warns on every response."""
    _, token = stack.new_tenant()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        healthy, refused, answered = asyncio.run(_answers(stack, token))
    assert healthy.json() == {"status": "ok"}
    assert refused.status_code == 401 and "detail" in refused.json()
    assert answered.status_code == 200 and answered.json()["series"] == []
