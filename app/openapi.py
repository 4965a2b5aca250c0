"""Shared OpenAPI pieces for the staff API: the error body and documented error responses."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Path
from pydantic import BaseModel, ConfigDict, Field

from app.db import MAX_ROW_ID


class ErrorDetail(BaseModel):
    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["Not found."])
    details: Any = Field(default=None, examples=[None])


class ErrorBody(BaseModel):
    """Every error answer of the API: `{"error": {"code", "message", "details"}}`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"error": {"code": "not_found", "message": "Not found.", "details": None}}]
        }
    )
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Bad request.",
    401: "Missing, unknown or revoked API key.",
    403: "The key may not do this (a federation key on an admin endpoint).",
    404: "Not found, or belongs to another federation.",
    409: "Conflicts with the current state (for example a slug or address already in use).",
    413: "The upload is too large.",
    422: "The request body or parameters are not valid.",
    429: "Too many requests.",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """A `responses=` dict documenting the given error statuses with the shared error body."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


# The usual set for an authenticated route under /api/v1/federations/{slug}.
STAFF_ERRORS = error_responses(401, 404, 422)
ADMIN_ERRORS = error_responses(401, 403, 422)

# A row id in a path: bounded so a huge number is a 422, not a database overflow (500).
IdPath = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="Row id.", examples=[42])]


# Models nested in the schemas that component_schema wrote, added to the document by install.
_NESTED: dict[str, dict[str, Any]] = {}
_REF = "#/components/schemas/{model}"


def component_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A model's schema for a hand-written `responses=` or `openapi_extra` entry.

    Pydantic puts nested models under the schema's own `$defs`, but a `$ref` in an OpenAPI
    document is read from the document's root, where `#/$defs/...` does not exist (a fuzzer then
    skips that part of the answer). Nested models go to `#/components/schemas` instead."""
    schema = model.model_json_schema(ref_template=_REF)
    _NESTED.update(schema.pop("$defs", {}))
    return schema


def install(app: FastAPI) -> None:
    """Adds the models nested in component_schema's schemas to the app's /openapi.json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().setdefault("components", {}).setdefault("schemas", {})
            for name, schema in _NESTED.items():
                schemas.setdefault(name, schema)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
