"""`mlcost serve` as a real process on loopback: answers, limits, cascade, metrics, shutdown."""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
from fake_metadata import FakeMetadataServer
from server_process import ServerProcess, make_workspace

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_workspace(tmp_path_factory.mktemp("serve-home"))


def _tiers(*names: str) -> list[dict[str, object]]:
    return [{"name": name, "variant": name, "threads": 1} for name in names]


def _config(*names: str, **sections: object) -> dict[str, object]:
    return {"tiers": _tiers(*names), "shutdown": {"drain_delay_s": 0.5}, **sections}


def test_predict_answers_each_text_with_label_probabilities_tier_and_time(home: Path) -> None:
    with ServerProcess(home, _config("student")) as server:
        one = httpx.post(f"{server.url}/v1/predict", json={"text": "good great"})
        many = httpx.post(f"{server.url}/v1/predict", json={"texts": ["good", "bad", "the car"]})
        models = httpx.get(f"{server.url}/v1/models").json()
        schema = httpx.get(f"{server.url}/openapi.json").json()
    assert one.status_code == 200 and many.status_code == 200
    answers = many.json()["predictions"]
    assert len(answers) == 3 and len(one.json()["predictions"]) == 1
    for answer in answers:
        assert answer["tier"] == "student" and not answer["escalated"]
        assert len(answer["probabilities"]) == 2
        assert answer["label"] == max(answer["probabilities"], key=answer["probabilities"].get)
        assert abs(sum(answer["probabilities"].values()) - 1) < 1e-4
    assert many.json()["time_ms"] > 0
    assert models["tiers"][0]["variant"] == "student"
    assert models["tiers"][0]["recipe_key"] == "student-key"
    assert (
        "/v1/predict" in schema["paths"] and "requestBody" in schema["paths"]["/v1/predict"]["post"]
    )


def _slow_body(url: str) -> tuple[int, str]:
    """Sends the headers and half the body, then stalls: the server must cut it off."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(
            b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 40\r\n\r\n{"text": "go'
        )
        reply = sock.recv(4096).decode()
    return int(reply.split()[1]), reply


def _stalled_head(url: str, head: bytes) -> tuple[int, str]:
    """Opens a connection, sends ``head`` (part of a request head, or nothing), and waits."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head)
        reply = sock.recv(4096).decode()
        closed = sock.recv(4096) == b""
    assert closed, "the server kept the connection open"
    return int(reply.split()[1]), reply


def test_bad_input_gets_one_clean_4xx_line_and_never_breaks_the_worker(home: Path) -> None:
    cases: list[tuple[bytes, int]] = [
        (b"{bad json", 400),
        (b"", 400),
        (b"[1, 2]", 422),
        (b'{"texts": []}', 422),
        (b'{"texts": [1]}', 422),
        (b'{"text": "a", "texts": ["b"]}', 422),
        (b'{"txt": "a"}', 422),
        (b'{"text": "   "}', 422),
        (b'{"text": "\\ud800 lone surrogate"}', 400),
        (json.dumps({"texts": ["a"] * 65}).encode(), 422),
        (json.dumps({"text": "x" * 10_001}).encode(), 422),
        (json.dumps({"text": "\U0001f600" * 300_000}, ensure_ascii=False).encode(), 413),
        (json.dumps({"text": "nul \x00 inside"}).encode(), 200),
        (json.dumps({"text": "مرحبا good עברית"}, ensure_ascii=False).encode(), 200),
        (json.dumps({"text": "\U0001f600" * 2000}, ensure_ascii=False).encode(), 200),
    ]
    config = _config("student", limits={"read_timeout_s": 1.0})
    with ServerProcess(home, config) as server:
        for body, status in cases:
            reply = httpx.post(f"{server.url}/v1/predict", content=body, timeout=30)
            assert reply.status_code == status, (body[:60], reply.text)
            if status != 200:
                error = reply.json()["error"]
                assert isinstance(error, str) and "\n" not in error and len(error) < 200
        status, reply = _slow_body(server.url)
        assert status == 408, reply
        for head in (b"", b"POST /v1/predict HTTP/1.1\r\nHost: x\r\n"):  # silent; slowloris
            began = time.monotonic()
            status, reply = _stalled_head(server.url, head)
            assert status == 408 and time.monotonic() - began < 5, reply
        assert (
            httpx.post(f"{server.url}/v1/predict", json={"text": "still fine"}).status_code == 200
        )
        assert server.process is not None and server.process.poll() is None


def _metric(text: str, name: str) -> float:
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith(name) and not line.startswith("#")
    )


def test_the_cascade_escalates_below_the_threshold_and_the_metrics_say_what_it_cost(
    home: Path,
) -> None:
    texts = {"texts": ["good", "bad awful", "the car was fun", "ride"]}
    config = _config(
        "student", "teacher", cascade={"threshold": 1.0}, machine={"price_usd_per_hour": 3.6}
    )
    with ServerProcess(home, config) as server:
        everything = httpx.post(f"{server.url}/v1/predict", json=texts).json()["predictions"]
        time.sleep(1.2)  # one cost tick
        metrics = httpx.get(f"{server.url}/metrics").text
    assert {a["tier"] for a in everything} == {"teacher"}
    assert all(a["escalated"] and not a["degraded"] for a in everything)
    assert _metric(metrics, 'mlcost_escalations_total{outcome="answered"}') == 4
    assert _metric(metrics, 'mlcost_predictions_total{tier="teacher"}') == 4
    assert _metric(metrics, 'mlcost_predictions_total{tier="student"}') == 0
    assert _metric(metrics, "mlcost_cascade_threshold") == 1.0
    cost = _metric(metrics, "mlcost_inference_cost_dollars_total")
    assert 0.001 < cost < 0.1  # $3.6/h = $0.001/s, for the seconds the server has run
    assert _metric(metrics, "mlcost_machine_price_dollars_per_hour") == 3.6
    for name in (
        "mlcost_batch_size_bucket",
        "mlcost_queue_wait_seconds_bucket",
        "mlcost_request_duration_seconds_bucket",
        "mlcost_confidence_bucket",
        "mlcost_in_flight_requests",
        "mlcost_queue_depth",
        "mlcost_ready",
    ):
        assert name in metrics

    with ServerProcess(home, {**config, "cascade": {"threshold": 0.0}}) as server:
        nothing = httpx.post(f"{server.url}/v1/predict", json=texts).json()["predictions"]
    assert {a["tier"] for a in nothing} == {"student"}


def test_admin_endpoints_need_the_bearer_token(home: Path) -> None:
    config = _config("student", "teacher", cascade={"threshold": 0.0})
    with ServerProcess(home, config, env={"MLCOST_ADMIN_TOKEN": "s3cret"}) as server:
        url = f"{server.url}/admin/threshold"
        assert httpx.post(url, json={"threshold": 1.0}).status_code == 401
        wrong = {"Authorization": "Bearer nope"}
        assert httpx.post(url, json={"threshold": 1.0}, headers=wrong).status_code == 401
        right = {"Authorization": "Bearer s3cret"}
        assert httpx.post(url, json={"threshold": 2}, headers=right).status_code == 422
        assert httpx.post(url, json={"threshold": 1.0}, headers=right).status_code == 200
        answer = httpx.post(f"{server.url}/v1/predict", json={"text": "good"}).json()
        assert answer["predictions"][0]["tier"] == "teacher"
        assert httpx.get(f"{server.url}/v1/models").json()["threshold"]["source"] == "admin"


def _load_like_a_balancer(url: str, stop: threading.Event, results: list[object]) -> None:
    """Eight workers send requests back to back; each stops once /readyz fails (a load
    balancer's readiness check takes the pod out), so every request sent must be answered."""
    routed = threading.Event()
    routed.set()

    def probe() -> None:
        with httpx.Client() as client:
            while routed.is_set() and not stop.is_set():
                try:
                    if client.get(f"{url}/readyz", timeout=1).status_code != 200:
                        routed.clear()
                except httpx.HTTPError:
                    routed.clear()
                time.sleep(0.05)

    def worker(index: int) -> None:
        with httpx.Client() as client:
            while routed.is_set() and not stop.is_set():
                try:
                    reply = client.post(
                        f"{url}/v1/predict", json={"texts": [f"good car {index}"] * 3}, timeout=30
                    )
                    results.append(reply.status_code)
                except httpx.HTTPError as exc:
                    results.append(repr(exc))

    threads = [threading.Thread(target=probe)] + [
        threading.Thread(target=worker, args=(i,)) for i in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)


@pytest.mark.parametrize("how", ["sigterm", "spot notice"])
def test_shutdown_under_load_answers_every_accepted_request_and_exits_0(
    home: Path, how: str
) -> None:
    drain_s = 1.0
    with FakeMetadataServer() as fake:
        config = _config("student", "teacher", cascade={"threshold": 0.5})
        config["shutdown"] = {"drain_delay_s": drain_s, "grace_period_s": 10, "flush_s": 1}
        config["limits"] = {"request_timeout_s": 5}
        if how == "spot notice":
            config["spot"] = {"cloud": "aws", "metadata_url": fake.url, "poll_interval_s": 0.2}
        with ServerProcess(home, config) as server:
            results: list[object] = []
            stop = threading.Event()
            load = threading.Thread(target=_load_like_a_balancer, args=(server.url, stop, results))
            load.start()
            time.sleep(1.0)
            began = time.monotonic()
            if how == "sigterm":
                server.terminate()
            else:
                fake.schedule_notice("aws")
            code = server.wait(30)
            took = time.monotonic() - began
            stop.set()
            load.join(60)
    answered = sum(1 for r in results if r == 200)
    print(f"{how}: {answered} of {len(results)} requests answered, exit {code} in {took:.1f} s")
    assert results and answered == len(results), [r for r in results if r != 200][:5]
    assert code == 0
    assert drain_s <= took < 10  # the drain delay, then out well inside the grace period
    messages = [record.get("message") for record in server.log]
    assert "draining" in messages and "stopped" in messages
    source = next(r for r in server.log if r.get("message") == "draining")["source"]
    assert ("SIGTERM" in str(source)) if how == "sigterm" else ("aws" in str(source))


def test_a_dead_remote_tier_gives_flagged_tier_1_answers_and_opens_its_circuit(home: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]  # nothing listens here once the socket closes
    config = {
        "tiers": [
            {"name": "student", "variant": "student", "threads": 1},
            {
                "name": "gpu",
                "remote": {
                    "url": f"http://127.0.0.1:{dead}",
                    "timeout_ms": 500,
                    "retries": 1,
                    "breaker": {"failures": 2, "reset_s": 60},
                },
            },
        ],
        "cascade": {"threshold": 1.0},
    }
    with ServerProcess(home, config) as server:
        answers = [
            httpx.post(f"{server.url}/v1/predict", json={"text": "good"}).json()["predictions"][0]
            for _ in range(4)
        ]
        metrics = httpx.get(f"{server.url}/metrics").text
    assert all(a["tier"] == "student" and a["escalated"] and a["degraded"] for a in answers)
    assert _metric(metrics, 'mlcost_escalations_total{outcome="degraded"}') == 4


def test_a_remote_tier_is_another_mlcost_serve(home: Path) -> None:
    with ServerProcess(home, _config("teacher")) as remote:
        config = {
            "tiers": [
                {"name": "student", "variant": "student", "threads": 1},
                {"name": "big", "remote": {"url": remote.url}},
            ],
            "cascade": {"threshold": 1.0},
        }
        with ServerProcess(home, config) as server:
            answer = httpx.post(f"{server.url}/v1/predict", json={"texts": ["good", "bad"]}).json()
    assert [a["tier"] for a in answer["predictions"]] == ["big", "big"]
    assert not any(a["degraded"] for a in answer["predictions"])
