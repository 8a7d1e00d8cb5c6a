"""The HTTP surface: FastAPI routes over the cascade, with limits checked before any work.

    POST /v1/predict      {"text": "..."} or {"texts": ["...", ...]}  -> one answer per text
    GET  /v1/models       the tiers: variant, recipe key, profile, threshold
    GET  /livez           200 while the process runs
    GET  /readyz          200 while it takes traffic; 503 once it drains
    GET  /metrics         Prometheus text format
    POST /admin/threshold {"threshold": 0.9}     (bearer token)
    POST /admin/drain     start the graceful shutdown (bearer token)

Every error is ``{"error": "one line that says what to fix"}`` with a 4xx
status for the client's mistakes (400 bad JSON, 413 too large, 422 wrong
shape, 408 too slow) and 429/503/504 for the server's state. Bodies are
never logged.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlcost.serve._batcher import DeadlineExceeded, QueueFull, Stopped
from mlcost.serve._cascade import Answer, Cascade
from mlcost.serve._config import Limits
from mlcost.serve._lifecycle import Lifecycle

_log = logging.getLogger("mlcost.serve")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class PredictRequest(BaseModel):
    """One text or a list of texts."""

    model_config = ConfigDict(extra="forbid")
    text: str | None = Field(default=None, description="one text to classify")
    texts: list[str] | None = Field(default=None, description="several texts, answered in order")

    @model_validator(mode="after")
    def _one_form(self) -> PredictRequest:
        if (self.text is None) == (self.texts is None):
            raise ValueError('give "text" (one string) or "texts" (a list of strings)')
        return self

    def all_texts(self) -> list[str]:
        return [self.text] if self.text is not None else list(self.texts or [])


class Prediction(BaseModel):
    label: str
    probabilities: dict[str, float]
    tier: str = Field(description="the tier whose model answered")
    confidence: float = Field(description="tier 1's confidence (what the threshold compares)")
    escalated: bool = Field(description="tier 1 was unsure and passed the text on")
    degraded: bool = Field(description="tier 2 was unavailable: tier 1's answer, flagged")


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    time_ms: float = Field(description="time spent in the server on this request")


class ThresholdChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(ge=0, le=1)


@dataclass
class Served:
    """What the routes serve from: the cascade, its limits, the lifecycle, the models' record."""

    cascade: Cascade
    limits: Limits
    lifecycle: Lifecycle
    models: list[dict[str, Any]]
    admin_token_env: str


def build_app(served: Served) -> FastAPI:
    """The FastAPI app (module docstring), wrapped in the body-size and read-time limits."""
    app = FastAPI(
        title="mlcost serve",
        summary="A cost-aware cascade of mlcost variants, batched",
        version="1",
        lifespan=served.lifecycle.lifespan,
    )
    _routes(app, served)
    app.add_middleware(_BodyLimit, limits=served.limits)
    return app


def _routes(app: FastAPI, served: Served) -> None:
    cascade, limits, lifecycle, metrics = (
        served.cascade,
        served.limits,
        served.lifecycle,
        served.cascade.metrics,
    )

    # The body is parsed here, not by FastAPI, so a client that forgets the JSON content type
    # (curl -d) is still understood, and every mistake gets one clear line.
    @app.post(
        "/v1/predict",
        response_model=PredictResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
            }
        },
    )
    async def predict(request: Request) -> Response:
        began = time.monotonic()
        try:
            body = PredictRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            metrics.requests.labels("invalid").inc()
            return _invalid(exc)
        texts = body.all_texts()
        problem = _check_texts(texts, limits)
        if problem is not None:
            metrics.requests.labels("invalid").inc()
            return _error(422, problem)
        if not lifecycle.is_accepting:
            metrics.requests.labels("unavailable").inc()
            return _error(503, "the server is shutting down; retry on another replica")
        metrics.in_flight.inc()
        try:
            answers = await cascade.predict(texts, began + limits.request_timeout_s)
        except QueueFull as exc:
            metrics.requests.labels("rejected").inc()
            return _error(429, str(exc), {"Retry-After": str(exc.retry_after_s)})
        except DeadlineExceeded:
            metrics.requests.labels("timeout").inc()
            return _error(504, f"not answered within {limits.request_timeout_s:g} s; retry later")
        except Stopped:
            metrics.requests.labels("unavailable").inc()
            return _error(503, "the server is shutting down; retry on another replica")
        finally:
            metrics.in_flight.dec()
        spent_s = time.monotonic() - began
        metrics.requests.labels("ok").inc()
        metrics.request_seconds.observe(spent_s)
        payload = {
            "predictions": [_prediction(a) for a in answers],
            "time_ms": round(spent_s * 1000.0, 3),
        }
        headers = {"Connection": "close"} if lifecycle.is_draining else None
        return JSONResponse(payload, headers=headers)

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"tiers": served.models, "threshold": vars(cascade.threshold)}

    @app.get("/livez")
    async def livez() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/readyz")
    async def readyz() -> Response:
        if lifecycle.is_ready:
            return JSONResponse({"status": "ready"})
        return JSONResponse({"status": lifecycle.state}, status_code=503)

    @app.get("/metrics")
    async def prometheus() -> Response:
        metrics.tick()
        for name, batcher in cascade.batchers.items():
            metrics.queue_depth.labels(name).set(batcher.depth)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.post(
        "/admin/threshold",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ThresholdChange.model_json_schema()}},
            }
        },
    )
    async def set_threshold(request: Request) -> Response:
        denied = _denied(request, served.admin_token_env)
        if denied is not None:
            return denied
        try:
            change = ThresholdChange.model_validate_json(await request.body())
        except ValidationError as exc:
            return _invalid(exc)
        old = cascade.threshold.value
        cascade.threshold.value, cascade.threshold.source = change.threshold, "admin"
        metrics.threshold.set(change.threshold)
        _log.info("threshold changed", extra={"fields": {"from": old, "to": change.threshold}})
        return JSONResponse({"threshold": change.threshold, "was": old})

    @app.post("/admin/drain")
    async def drain(request: Request) -> Response:
        denied = _denied(request, served.admin_token_env)
        if denied is not None:
            return denied
        lifecycle.begin_drain("admin /admin/drain")
        return JSONResponse({"status": lifecycle.state}, status_code=202)


def _prediction(answer: Answer) -> dict[str, Any]:
    return {
        "label": answer.label,
        "probabilities": answer.probabilities,
        "tier": answer.tier,
        "confidence": answer.confidence,
        "escalated": answer.is_escalated,
        "degraded": answer.is_degraded,
    }


def _check_texts(texts: list[str], limits: Limits) -> str | None:
    """The first problem with the texts, in one line, or None."""
    if not texts:
        return '"texts" is empty; give at least one text'
    if len(texts) > limits.max_texts:
        return f'"texts" has {len(texts)} texts; send at most {limits.max_texts} per request'
    for i, text in enumerate(texts):
        where = f"texts[{i}]" if len(texts) > 1 else "text"
        if not text.strip():
            return f"{where} is empty; give some text"
        if len(text) > limits.max_text_chars:
            return f"{where} has {len(text)} characters; the limit is {limits.max_text_chars}"
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"{where} holds a lone UTF-16 surrogate (not a character); send valid Unicode"
    return None


def _denied(request: Request, token_env: str) -> Response | None:
    token = os.environ.get(token_env, "")
    if not token:
        return _error(
            403, f"admin endpoints are off; set {token_env} to a secret token to use them"
        )
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        return _error(401, "missing or wrong bearer token; send Authorization: Bearer <token>")
    return None


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _invalid(exc: ValidationError) -> JSONResponse:
    """One line for the first problem: 400 for a body that is not JSON, else 422."""
    first = exc.errors(include_url=False)[0]
    if first["type"] in ("json_invalid", "json_type"):
        return _error(400, 'the body is not valid JSON; send {"text": "..."} or {"texts": [...]}')
    if first["type"] == "model_type":
        return _error(422, 'the body must be a JSON object: {"text": "..."} or {"texts": [...]}')
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = 'unknown field; send "text" or "texts"'
    return _error(422, f"{where}: {message}")


class _BodyLimit:
    """Reads a POST body whole before the app sees it: over ``limits.max_body_bytes`` is 413
    (from Content-Length when given, else counted as it arrives), slower than
    ``limits.read_timeout_s`` is 408. The app then reads the buffered body."""

    def __init__(self, app: ASGIApp, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT"):
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        too_large = f"the body is over {limit} bytes; send fewer or shorter texts"
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > limit):
            await _send_error(send, 413, too_large)
            return
        chunks: list[bytes] = []
        seen = 0
        deadline = time.monotonic() + self.limits.read_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                took = f"the body took over {self.limits.read_timeout_s:g} s to arrive; send it at once"
                await _send_error(send, 408, took)
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                await _send_error(send, 413, too_large)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def buffered() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()  # the app waits for a disconnect: pass it on
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, buffered, send)


async def _send_error(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
