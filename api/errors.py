"""Errors: the library's exceptions mapped to HTTP statuses in one place, and body limits."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from service_circle._errors import (
    InputError,
    InputNotFoundError,
    ServiceCircleError,
    UnknownCategoryError,
    UnknownProfileError,
)

logger = logging.getLogger(__name__)

#: The library's exceptions and the status each gets (most specific first).
STATUS: tuple[tuple[type[Exception], int], ...] = (
    (UnknownCategoryError, 404),
    (UnknownProfileError, 422),
    (InputNotFoundError, 404),
    (InputError, 422),
    (ServiceCircleError, 422),
)


class StudyNotFoundError(LookupError):
    """A study id the service does not hold."""

    def __init__(self, study_id: str, known: list[str]):
        super().__init__(
            f"unknown study {study_id!r}: this service holds {', '.join(known) or 'none'}"
        )


def install(app: FastAPI) -> None:
    """Register the handlers."""

    @app.exception_handler(StudyNotFoundError)
    async def _study(request: Request, exc: StudyNotFoundError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(ServiceCircleError)
    async def _library(request: Request, exc: ServiceCircleError) -> JSONResponse:
        status = next(code for kind, code in STATUS if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status_code=status)


class BodyLimit:
    """ASGI middleware: a request body over ``max_bytes`` gets 413 before it is read whole."""

    def __init__(self, app, max_bytes: int):
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
        await response({"type": "http"}, None, send)
