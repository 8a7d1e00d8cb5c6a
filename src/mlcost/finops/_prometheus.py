"""A small client for a Prometheus server's HTTP API: instant and range queries, nothing more.

It answers plain values (a series' labels and floats) so callers never see the API's JSON,
and turns every failure into one PrometheusError line that says what failed and what to
check: the server unreachable, an answer that is not Prometheus', a query it rejected.
Queries go as POST form data, which the API accepts on both endpoints, so a long PromQL
expression never meets a URL length limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import httpx

from mlcost.core import PrometheusError, redact_url


@dataclass(frozen=True, slots=True)
class Sample:
    """One series of an instant query: its labels and its value at ``at``."""

    labels: Mapping[str, str]
    value: float
    at: datetime


@dataclass(frozen=True, slots=True)
class Series:
    """One series of a range query: its labels and its (time, value) points, oldest first."""

    labels: Mapping[str, str]
    points: tuple[tuple[datetime, float], ...]


class Prometheus:
    """A Prometheus server at ``url`` (its base, as in http://prometheus:9090).

    ``transport`` replaces the network (tests inject ``httpx.MockTransport``). Use as a
    context manager, or call ``close``.
    """

    def __init__(
        self, url: str, *, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        # The URL to show in messages and readings: a password in it is hidden.
        self.where = redact_url(self.url)
        self._client = httpx.Client(base_url=self.url, timeout=timeout_s, transport=transport)

    def query(self, promql: str, *, at: datetime | None = None) -> list[Sample]:
        """The instant vector (or scalar) ``promql`` evaluates to at ``at`` (default: now).

        Returns one Sample per series; a scalar is one Sample without labels. Raises
        PrometheusError when the server fails or rejects the query, or when the query
        evaluates to a range vector (ask ``query_range`` for points over time).
        """
        form = {"query": promql} | ({"time": _unix(at)} if at is not None else {})
        data = self._post("/api/v1/query", form, promql)
        kind, result = data.get("resultType"), data.get("result") or []
        if kind == "scalar":
            return [_sample({}, result)]
        if kind == "vector":
            return [_sample(item.get("metric", {}), item.get("value")) for item in result]
        raise PrometheusError(
            f"query {promql!r} gives a {kind}, not an instant vector; ask for an instant "
            "vector (or use a range query for points over time)"
        )

    def query_range(
        self, promql: str, *, start: datetime, end: datetime, step: timedelta
    ) -> list[Series]:
        """``promql`` evaluated every ``step`` from ``start`` to ``end``: one Series per series.

        Raises PrometheusError when the server fails or rejects the query.
        """
        form = {
            "query": promql,
            "start": _unix(start),
            "end": _unix(end),
            "step": f"{step.total_seconds():g}",
        }
        data = self._post("/api/v1/query_range", form, promql)
        return [
            Series(
                dict(item.get("metric", {})),
                tuple((_time(t), _number(v)) for t, v in item.get("values", ())),
            )
            for item in data.get("result", ())
        ]

    def _post(self, path: str, form: dict[str, str], promql: str) -> dict[str, Any]:
        """The ``data`` of the API's answer; PrometheusError, one line, on any failure."""
        try:
            response = self._client.post(path, data=form)
        except httpx.TimeoutException as exc:
            raise PrometheusError(
                f"Prometheus at {self.where} did not answer {promql!r} in time ({exc}); "
                "check the server's load, or ask for a shorter window"
            ) from exc
        except httpx.HTTPError as exc:
            raise PrometheusError(
                f"cannot reach Prometheus at {self.where} ({exc}); check the URL and that "
                "the server runs"
            ) from exc
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict) or "status" not in body:
            raise PrometheusError(
                f"{self.where}{path} answered HTTP {response.status_code}, not Prometheus' "
                "API; give the server's base URL (http://host:9090, without /api/v1)"
            )
        if body["status"] != "success":
            raise PrometheusError(
                f"Prometheus at {self.where} rejected {promql!r}: "
                f"{body.get('errorType', 'error')}: {body.get('error', 'no reason given')}"
            )
        data: dict[str, Any] = body.get("data", {})
        return data

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _unix(moment: datetime) -> str:
    return f"{moment.timestamp():.3f}"


def _time(unix_s: float) -> datetime:
    return datetime.fromtimestamp(float(unix_s), UTC)


def _number(text: str) -> float:
    # The API writes values as strings ("NaN", "+Inf" included), which float() reads.
    return float(text)


def _sample(labels: Mapping[str, str], value: Any) -> Sample:
    at, text = value
    return Sample(dict(labels), _number(text), _time(at))
