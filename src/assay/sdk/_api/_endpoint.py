"""Endpoints declared as a table: `create = endpoint("POST", "/users", returns=User, create=True)`.

Each declaration records its (method, path template) in `ROUTES`, which a test checks
against the server's OpenAPI, so the SDK cannot drift from the routes the server has.
"""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, TypeAdapter

from assay.sdk._http import HTTP

API_PREFIX = "/api/v1"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    name: str
    create: bool = False
    retry: bool = False


ROUTES: list[Route] = []


class API:
    """Base of the private per-noun classes: a table of endpoints over one `HTTP`."""

    def __init__(self, http: HTTP) -> None:
        self._http = http


class endpoint:
    """One route of the server, declared in a class body.

    `create=True`: a create the server makes idempotent; it gets an automatic
    `Idempotency-Key`, so retrying it is safe. `retry=True`: a POST that is harmless to
    repeat by nature (a content-addressed upload, minting a signed URL).
    """

    def __init__(
        self,
        method: str,
        path: str,
        *,
        returns: Any = None,
        create: bool = False,
        retry: bool = False,
    ) -> None:
        self.method = method.upper()
        self.path = API_PREFIX + path
        self.create = create
        self.retry = retry
        self.adapter = TypeAdapter(returns) if returns is not None else None
        self.route: Route | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.route = Route(
            self.method, self.path, f"{owner.__name__}.{name}", self.create, self.retry
        )
        ROUTES.append(self.route)

    def __get__(self, instance: API | None, owner: type) -> Any:
        if instance is None:
            return self
        return functools.partial(self.call, instance._http)

    def call(
        self,
        http: HTTP,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        files: Any = None,
        data: dict[str, Any] | None = None,
        content: bytes | None = None,
        idempotency_key: str | None = None,
        **path_params: str,
    ) -> Any:
        """Fill the path template, send, and parse the response into `returns`."""
        path = self.path.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})
        headers = {}
        if self.create or idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key or uuid.uuid4().hex
        if isinstance(json, BaseModel):
            json = json.model_dump(mode="json", exclude_none=True)
        response = http.request(
            self.method,
            path,
            params=params,
            json=json,
            files=files,
            data=data,
            content=content,
            headers=headers,
            retry_safe=self.retry,
        )
        if self.adapter is None:
            return response.json() if response.content else None
        return self.adapter.validate_json(response.content)
