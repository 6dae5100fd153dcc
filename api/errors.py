"""Errors: the library's exceptions mapped to HTTP statuses in one place, and body limits."""

from __future__ import annotations

import logging
import math
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from service_circle_api.compute import BusyError
from service_circle_api.registry import ClientGoneError
from starlette.types import ASGIApp

from service_circle._errors import (
    InputError,
    InputNotFoundError,
    ServiceCircleError,
    TimeLimitError,
    UnknownCategoryError,
    UnknownProfileError,
)

logger = logging.getLogger(__name__)

#: The library's exceptions and the status each gets (most specific first).
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownCategoryError, 404),
    (UnknownProfileError, 422),
    (InputNotFoundError, 404),
    (TimeLimitError, 503),
    (InputError, 422),
    (ServiceCircleError, 422),
)


class StudyNotFoundError(LookupError):
    """A study id the service does not hold."""

    def __init__(self, study_id: str, known: list[str]):
        super().__init__(
            f"unknown study {study_id!r}: this service holds {', '.join(known) or 'none'}"
        )


class StudyUnavailableError(LookupError):
    """A study the service found but could not load."""

    def __init__(self, study_id: str, reason: str):
        super().__init__(f"study {study_id!r} is unavailable: {reason}")


def _json_safe(value: Any) -> Any:
    """Validation details as JSON: NaN and infinities as text, anything else as a string."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


def install(app: FastAPI) -> None:
    """Register the handlers."""

    @app.exception_handler(StudyNotFoundError)
    async def _study(request: Request, exc: StudyNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StudyUnavailableError)
    async def _unavailable(request: Request, exc: StudyUnavailableError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    @app.exception_handler(BusyError)
    async def _busy(request: Request, exc: BusyError) -> JSONResponse:
        return JSONResponse(
            {"detail": str(exc)},
            status_code=exc.status_code,  # 503 the pool is full; 429 this client's share is
            headers={"Retry-After": str(exc.retry_after_s)},
        )

    @app.exception_handler(ClientGoneError)
    async def _gone(request: Request, exc: ClientGoneError) -> JSONResponse:
        # nobody reads it: the client closed the connection and its computation was stopped
        return JSONResponse({"detail": str(exc)}, status_code=499)

    @app.exception_handler(ServiceCircleError)
    async def _library(request: Request, exc: ServiceCircleError) -> JSONResponse:
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        # the default handler fails (500) on NaN/Infinity inputs: they are not JSON
        errors = _json_safe(jsonable_encoder(exc.errors()))
        for error in errors:
            if error.get("type") == "string_pattern_mismatch" and error.get("loc", [])[-1:] == [
                "at"
            ]:  # the pattern of a moment says nothing to a planner
                error["msg"] = (
                    f"cannot read {error.get('input')!r} as a moment: write a weekday and a "
                    "time ('Tue 23:00', '周二 23:00') or a date and time ('2026-12-05T12:00')"
                )
        return JSONResponse({"detail": errors}, status_code=422)


async def _no_body() -> dict:
    return {"type": "http.disconnect"}


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before it is read whole."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope, receive, send):
        """Pass the request on, counting its body."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_bytes:
            return await self._reject(send)
        seen = 0
        rejected = False

        async def counted():
            nonlocal seen, rejected
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes and not rejected:
                    rejected = True
                    await self._reject(send)
                    return {"type": "http.disconnect"}  # the app stops reading
            return message

        async def guarded(message):
            if not rejected:  # once rejected, the app's own answer is dropped
                await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not rejected:
                raise

    async def _reject(self, send) -> None:
        response = JSONResponse(
            {"detail": f"request body over {self.max_bytes} bytes (SC_MAX_BODY_BYTES)"},
            status_code=413,
        )
        await response({"type": "http"}, _no_body, send)
