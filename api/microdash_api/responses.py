"""The JSON response for what a route builds by hand (large query results, error bodies).

Routes that return a model are serialised by FastAPI itself (Pydantic straight to JSON bytes);
FastAPI deprecated its ORJSONResponse in favour of that, so this is our own, small one."""

from typing import Any

import orjson
from starlette.responses import JSONResponse


class OrjsonResponse(JSONResponse):
    """Like ORJSONResponse: NaN and infinities become null, non-string dict keys are allowed."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
