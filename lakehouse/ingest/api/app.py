"""The FastAPI app: `POST /v1/trades`, `GET /health`, `GET /metrics`, docs at `/docs`.

The body is read and validated by hand (one pydantic-core pass over the whole array) rather than by
FastAPI's per-parameter machinery: it is several times faster on batches of thousands, enforces the byte
limit while reading, and lets 422 answers name the item and the field. The OpenAPI document still
describes the body (see `_openapi`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from lakehouse.ingest.api import metrics
from lakehouse.ingest.api.auth import ApiKeys, source_for
from lakehouse.ingest.api.ratelimit import FailureLimiter, RateLimiter
from lakehouse.ingest.api.sink import KafkaSink
from lakehouse.ingest.api_models import BodyInvalid, TradeIn, batch_adapter, parse_trades, record_values
from lakehouse.kafka.trade_producer import BatchOutcome, TradeProducer
from lakehouse.schema.trade import now_ms
from lakehouse.settings import Settings, get_settings

log = logging.getLogger(__name__)

# How long a stopping API worker waits for Kafka to take what it still buffers. docker-compose.yaml's
# stop_grace_period of ingestion-api must exceed it (tests/unit/deploy/test_compose_services.py).
SHUTDOWN_FLUSH_TIMEOUT_S = 10.0

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Your client's API key")


class Accepted(BaseModel):
    accepted: int = Field(description="Records acknowledged by Kafka (all of the request's)")
    source: str = Field(description="The `source` given to every record, from the API key")


class FieldError(BaseModel):
    index: int | None = Field(description="Position of the item in the batch (0 for a single trade)")
    field: str | None = Field(description="The field at fault, when one is")
    message: str
    type: str


class Invalid(BaseModel):
    detail: str
    errors: list[FieldError]


class Unavailable(BaseModel):
    detail: str
    accepted: list[int] = Field(description="Indices of records Kafka did acknowledge (they are stored)")
    not_accepted: list[int] = Field(description="Indices of records to send again")


class Message(BaseModel):
    detail: str


class TooLarge(Exception):  # noqa: N818 - raised as a condition, like StopIteration
    """The body exceeds api_max_body_bytes."""


def _error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    metrics.REQUESTS.labels(str(status)).inc()
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLarge
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:  # chunked bodies have no Content-Length: stop reading as soon as we know
            raise TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class Gateway:
    """The request handling state of one worker: keys, rate limits, the Kafka sink."""

    def __init__(self, settings: Settings, sink: KafkaSink) -> None:
        self.settings = settings
        self.keys = ApiKeys(settings.api_keys)
        self.limiter = RateLimiter(settings.api_rate_limit_per_s)
        self.auth_failures = FailureLimiter(settings.api_auth_failures_per_min)
        self.sink = sink
        self.adapter = batch_adapter(settings.api_max_batch)

    async def post_trades(self, request: Request, api_key: str | None) -> Response:
        address = request.client.host if request.client else "unknown"
        locked = self.auth_failures.retry_after(address)
        if locked:
            most = self.auth_failures.per_minute
            detail = f"too many failed authentications from {address}: at most {most:g} a minute"
            return _error(429, detail, {"Retry-After": str(locked)})
        client = self.keys.client_for(api_key)
        if client is None:
            self.auth_failures.failed(address)
            return _error(401, "missing or invalid X-API-Key", {"WWW-Authenticate": "ApiKey"})
        wait = self.limiter.retry_after(client)
        if wait:
            return _error(429, f"rate limit of {self.limiter.rate:g} requests/s exceeded", {"Retry-After": str(wait)})
        limit, timeout_s = self.settings.api_max_body_bytes, self.settings.api_body_timeout_s
        try:
            # A client that stalls mid-body would hold a connection and its buffers for as long as it likes.
            async with asyncio.timeout(timeout_s):
                body = await _read_body(request, limit)
        except TooLarge:
            return _error(413, f"body exceeds {limit} bytes; send smaller batches")
        except TimeoutError:
            # The rest of the body may still come: close the connection rather than read it as a request.
            return _error(408, f"the request body did not arrive within {timeout_s:g} s", {"Connection": "close"})
        try:
            trades = parse_trades(body, self.settings.api_max_batch, self.adapter)
        except BodyInvalid as invalid:
            metrics.REQUESTS.labels("422").inc()
            metrics.TRADES_REJECTED.labels("invalid").inc()
            return JSONResponse({"detail": str(invalid), "errors": invalid.errors}, status_code=422)
        return await self._produce(client, trades)

    async def _produce(self, client: str, trades: list[Any]) -> Response:
        source = source_for(client)
        ingest_time = now_ms()
        items = record_values(trades, source, ingest_time)
        started = time.perf_counter()
        try:
            outcome = await self.sink.send(items)
        except Exception as error:  # a closed or failed producer: the client's data is fine, Kafka is not
            log.exception("producing %d record(s) from %s failed", len(items), client)
            outcome = BatchOutcome(len(items), failed=dict.fromkeys(range(len(items)), f"producer error: {error}"))
        if outcome.all_acked:
            metrics.KAFKA_ACK_SECONDS.observe(time.perf_counter() - started)
            metrics.REQUESTS.labels("202").inc()
            metrics.TRADES_ACCEPTED.labels(client).inc(len(items))
            return JSONResponse({"accepted": len(items), "source": source}, status_code=202)
        accepted = sorted(outcome.acked)
        not_accepted = sorted(set(range(len(items))) - set(accepted))
        reasons = sorted(set(outcome.failed.values())) or ["no acknowledgement in time"]
        log.warning(
            "Kafka did not acknowledge %d of %d record(s) from %s: %s",
            len(not_accepted), len(items), client, "; ".join(reasons),
        )  # fmt: skip
        metrics.REQUESTS.labels("503").inc()
        metrics.TRADES_ACCEPTED.labels(client).inc(len(accepted))
        metrics.TRADES_REJECTED.labels("kafka_unavailable").inc(len(not_accepted))
        if not outcome.complete:
            # librdkafka reports every record within message.timeout.ms, so this is a safety net only.
            detail = (
                "Kafka did not confirm the records in time: send them again "
                "(a record stored twice is removed downstream, where trades are unique by identity)"
            )
        elif not accepted:
            detail = "Kafka is unavailable: none of the records were accepted"
        else:
            detail = f"Kafka is unavailable: {len(accepted)} of {len(items)} records were accepted"
        return JSONResponse(
            {"detail": detail, "accepted": accepted, "not_accepted": not_accepted},
            status_code=503,
            headers={"Retry-After": str(self.settings.api_retry_after_s)},
        )


_BODY_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/TradeIn"},
                        {"type": "array", "items": {"$ref": "#/components/schemas/TradeIn"}, "minItems": 1},
                    ]
                }
            }
        },
    }
}


def _openapi(app: FastAPI, max_batch: int) -> dict[str, Any]:
    """FastAPI's document plus the hand-parsed body's schema (TradeIn) in components."""
    if app.openapi_schema:
        return app.openapi_schema
    document = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
    trade_schema = TradeIn.model_json_schema(ref_template="#/components/schemas/{model}")
    document.setdefault("components", {}).setdefault("schemas", {})["TradeIn"] = trade_schema
    body = document["paths"]["/v1/trades"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    body["oneOf"][1]["maxItems"] = max_batch
    app.openapi_schema = document
    return document


def create_app(settings: Settings | None = None, producer: TradeProducer | None = None) -> FastAPI:
    """Build the app; `producer` lets tests and benchmarks share one client (it is closed on shutdown)."""
    settings = settings or get_settings()
    if not settings.api_keys:
        log.warning("LAKEHOUSE_API_KEYS is empty: every POST will get 401 (create keys: lakehouse apikey create)")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kafka = producer or TradeProducer(
            settings.kafka_bootstrap,
            settings.kafka_topic,
            client_id="ingestion-api",
            message_timeout_ms=settings.api_kafka_timeout_ms,
            linger_ms=5,
        )
        sink = KafkaSink(kafka, settings.api_kafka_timeout_ms / 1000)
        sink.start()
        app.state.gateway = Gateway(settings, sink)
        log.info("ingestion API ready: topic %s on %s", settings.kafka_topic, settings.kafka_bootstrap)
        yield
        await sink.stop()
        kafka.close(timeout_s=SHUTDOWN_FLUSH_TIMEOUT_S)

    app = FastAPI(
        title="Lakehouse ingestion API",
        version="1.0.0",
        description="Post trades into the market-data lakehouse (Kafka `raw-trades`).",
        lifespan=lifespan,
    )

    @app.post(
        "/v1/trades",
        status_code=202,
        summary="Ingest one trade or a batch",
        openapi_extra=_BODY_DOC,
        responses={
            202: {"model": Accepted, "description": "Every record was acknowledged by Kafka"},
            401: {"model": Message, "description": "Missing or unknown X-API-Key"},
            413: {"model": Message, "description": "Body larger than the configured limit"},
            422: {"model": Invalid, "description": "Which item, which field, and why"},
            408: {"model": Message, "description": "The body did not arrive within LAKEHOUSE_API_BODY_TIMEOUT_S"},
            429: {"model": Message, "description": "Rate limit or failed-key limit exceeded; see Retry-After"},
            503: {"model": Unavailable, "description": "Kafka unavailable; see Retry-After and which were accepted"},
        },
    )
    async def post_trades(request: Request, api_key: Annotated[str | None, Depends(api_key_header)]) -> Response:
        gateway: Gateway = request.app.state.gateway
        return await gateway.post_trades(request, api_key)

    @app.get("/health", responses={200: {"model": Message}, 503: {"model": Message}})
    async def health(request: Request) -> JSONResponse:
        gateway: Gateway = request.app.state.gateway
        problem = await gateway.sink.problem()
        if problem is None:
            return JSONResponse({"detail": "ok: Kafka reachable"})
        return JSONResponse({"detail": problem}, status_code=503)

    @app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
    async def prometheus_metrics() -> Response:
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    app.openapi = lambda: _openapi(app, settings.api_max_batch)  # type: ignore[method-assign]
    return app
