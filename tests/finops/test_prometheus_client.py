"""The Prometheus client: answers as plain values, every failure one line saying what to check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from mlcost.finops import Prometheus, PrometheusError


def _api(data: dict[str, Any], status: int = 200) -> httpx.MockTransport:
    """A fake Prometheus answering every query with ``data``; it records the forms it got."""
    seen: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(dict(httpx.QueryParams(request.content.decode())))
        return httpx.Response(status, json=data)

    transport = httpx.MockTransport(answer)
    transport.seen = seen  # type: ignore[attr-defined]
    return transport


def _success(result_type: str, result: object) -> dict[str, Any]:
    return {"status": "success", "data": {"resultType": result_type, "result": result}}


def test_a_vector_comes_back_as_labels_and_floats_at_the_time_asked() -> None:
    transport = _api(
        _success(
            "vector",
            [
                {"metric": {"job": "a"}, "value": [1700000000.5, "2.5"]},
                {"metric": {"job": "b"}, "value": [1700000000.5, "NaN"]},
            ],
        )
    )
    at = datetime(2026, 12, 1, tzinfo=UTC)
    with Prometheus("http://prom:9090/", transport=transport) as client:
        samples = client.query("up", at=at)
    assert [s.labels for s in samples] == [{"job": "a"}, {"job": "b"}]
    assert samples[0].value == 2.5 and samples[1].value != samples[1].value  # NaN
    assert samples[0].at == datetime.fromtimestamp(1700000000.5, UTC)
    assert transport.seen == [{"query": "up", "time": f"{at.timestamp():.3f}"}]  # type: ignore[attr-defined]


def test_a_scalar_is_one_sample_and_a_range_query_gives_points() -> None:
    with Prometheus("http://prom", transport=_api(_success("scalar", [1.0, "3"]))) as client:
        assert [(s.labels, s.value) for s in client.query("1 + 2")] == [({}, 3.0)]
    matrix = _success("matrix", [{"metric": {"job": "a"}, "values": [[10, "1"], [11, "2"]]}])
    start = datetime(2026, 12, 1, tzinfo=UTC)
    transport = _api(matrix)
    with Prometheus("http://prom", transport=transport) as client:
        (series,) = client.query_range(
            "up", start=start, end=start + timedelta(minutes=1), step=timedelta(seconds=15)
        )
    assert [value for _, value in series.points] == [1.0, 2.0]
    assert transport.seen[0]["step"] == "15"  # type: ignore[attr-defined]


def test_a_rejected_query_says_what_prometheus_said() -> None:
    body = {"status": "error", "errorType": "bad_data", "error": 'parse error: unexpected "}"'}
    with (
        Prometheus("http://prom", transport=_api(body, status=400)) as client,
        pytest.raises(PrometheusError) as caught,
    ):
        client.query("rate(x[5m]")
    message = str(caught.value)
    assert "rejected 'rate(x[5m]'" in message and "bad_data: parse error" in message
    assert "\n" not in message


def test_a_server_that_is_not_prometheus_is_named_with_the_fix() -> None:
    def page(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, text="<html>not found</html>")

    with (
        Prometheus("http://grafana:3000", transport=httpx.MockTransport(page)) as client,
        pytest.raises(
            PrometheusError, match=r"HTTP 404, not Prometheus' API; give the server's base URL"
        ),
    ):
        client.query("up")


def test_an_unreachable_server_is_one_line_without_the_password() -> None:
    with (
        Prometheus("http://reader:s3cret@127.0.0.1:1", timeout_s=2) as client,
        pytest.raises(PrometheusError) as caught,
    ):
        client.query("up")
    message = str(caught.value)
    assert message.startswith("cannot reach Prometheus at http://reader:***@127.0.0.1:1")
    assert "s3cret" not in message and "\n" not in message


def test_a_range_vector_asked_of_an_instant_query_says_which_to_use() -> None:
    matrix = _success("matrix", [{"metric": {}, "values": [[10, "1"]]}])
    with (
        Prometheus("http://prom", transport=_api(matrix)) as client,
        pytest.raises(PrometheusError, match="gives a matrix, not an instant vector"),
    ):
        client.query("up[5m]")
