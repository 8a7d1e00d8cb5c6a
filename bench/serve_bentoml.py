"""mlcost serve vs BentoML's adaptive batching, same ONNX model, end to end over HTTP (`make bench`).

Run: ``.venv/bin/python bench/serve_bentoml.py [--home .mlcost-demo] [--variant NAME]
[--bentoml-max-latency-ms 1000] [--quick]``

Target: mlcost serve sustains >= 1.3x BentoML's throughput at an equal or lower p99.

The same variant (default: the demo's int8-dynamic, an ONNX model) is served on loopback
by two real servers in turn, each with one worker on this machine's cores:

- ``mlcost serve`` (main venv), dynamic batching at most 16 texts, 5 ms queue delay;
- BentoML (bench/bentoml/service.py, BentoML 1.4 in .bench-venv/bentoml, built here on
  first use from bench/bentoml/requirements.txt by bench/optimum/venv.py), a batchable API
  with max_batch_size 16 and max_latency_ms 1000 (its adaptive dispatcher picks the wait
  itself; the latency budget is set well above the SLO so that BentoML never sheds with a
  503 a request the SLO would have accepted: the p99 the client measures decides for both).

Both run the model the same way: the same onnxruntime and tokenizers versions, the same
intra-op threads (what the CPU quota allows), one inter-op thread, the session settings
compress recorded for the variant (recipe["session"]: graph optimisation level, spinning,
arena), truncation to 128 tokens, padding to the batch's longest text (mlcost further
splits a batch into length buckets: that is part of what it is measured on), per-request
access logs off. Every request is ``{"texts": [one tweet]}`` from the demo's rows.

Method (as bench/serve_batching.py): an open-loop Poisson client in its own process
(bench/serving/loadgen.py) sends at a rate for 12 s (the first 2 s not counted); a rate is
sustained when every request is answered 200 and the p99 is within the SLO (100 ms). From
the same start rate for both (half the variant's measured batch-1 throughput) the rate
rises by 1.25x until a run fails (or falls by 1.25x until one passes), then two bisection
steps (geometric midpoints) between the last sustained and the first failed rate narrow
it to ~6%. Figures: each server's highest sustained rate and its p99; their ratio at the
SLO; and, for "at equal or lower p99", the highest rate mlcost sustained with a p99 no
higher than BentoML's at BentoML's best rate, over BentoML's best rate (the target's
figure). ``--quick``: 4 s runs, one bisection step (a smoke test, not a figure). Exits 0
whether or not the target is met.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import importlib.util
import json
import math
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent / "serving"))
from server import ServerExited, cpu_label, load, running, tweet_bodies, wait_ready

ROOT = Path(__file__).resolve().parents[1]
BENTOML_DIR = ROOT / "bench" / "bentoml"
BENTOML_VENV = ROOT / ".bench-venv" / "bentoml"
SLO_P99_MS = 100.0
STEP = 1.25
DURATION_S = 12.0
WARMUP_S = 2.0
REFINE_STEPS = 2
TARGET_RATIO = 1.3
MAX_BATCH_SIZE = 16
MLCOST_DELAY_MS = 5
BENTOML_MAX_LATENCY_MS = 1000
MAX_LENGTH = 128

Run = dict[str, Any]


def _venv_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_venv", ROOT / "bench/optimum/venv.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _peer_version(python: Path, package: str) -> str:
    out = subprocess.run(
        [str(python), "-c", f"import importlib.metadata as m; print(m.version({package!r}))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return out.stdout.strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def bentoml_running(
    venv: ModuleType,
    model_dir: Path,
    *,
    threads: int,
    session: dict[str, Any],
    max_latency_ms: int,
) -> Iterator[str]:
    """Base URL of ``bentoml serve service:Classifier`` (cwd bench/bentoml), ready; stopped after."""
    port = _free_port()
    with tempfile.TemporaryDirectory() as home, (Path(home) / "serve.log").open("w+") as log:
        env = venv._clean_env(
            BENTOML_DO_NOT_TRACK="True",
            BENTOML_HOME=home,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            BENTO_MODEL_DIR=str(model_dir),
            BENTO_THREADS=str(threads),
            BENTO_ORT_SESSION=json.dumps(session),
            BENTO_MAX_LENGTH=str(MAX_LENGTH),
            BENTO_MAX_BATCH_SIZE=str(MAX_BATCH_SIZE),
            BENTO_MAX_LATENCY_MS=str(max_latency_ms),
        )
        process = subprocess.Popen(
            [
                str(BENTOML_VENV / "bin" / "bentoml"),
                "serve",
                "service:Classifier",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=BENTOML_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the arbiter and its worker
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_ready(url, process, log)
            yield url
        finally:
            _stop(process)


def _wait_ready(url: str, process: subprocess.Popen[bytes], log: Any) -> None:
    try:
        wait_ready(url, timeout_s=180, poll_s=0.2, process=process)
    except ServerExited as exc:
        log.seek(0)
        tail = "\n".join(log.read().splitlines()[-30:])
        raise RuntimeError(f"bentoml serve exited {exc.returncode}:\n{tail}") from exc


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    # The worker may outlive the arbiter for a moment: wait for the whole group to go.
    for _ in range(100):
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _passed(result: Run) -> bool:
    ok = result["statuses"] == {"200": result["sent"]} and not result["errors"]
    return bool(ok) and result["p99_ms"] is not None and float(result["p99_ms"]) <= SLO_P99_MS


def _search(
    url: str, start: float, bodies: list[dict[str, object]], *, duration_s: float, refine: int
) -> tuple[float, list[Run]]:
    """The highest sustained rate (module docstring) and every run, each with its "rate"."""
    load(url, 20, 3, bodies, warmup_s=0)  # warm the connection pool, the model, the dispatcher
    runs: list[Run] = []

    def trial(rate: float) -> bool:
        result = load(url, rate, duration_s, bodies, warmup_s=min(WARMUP_S, duration_s / 4))
        result["rate"] = rate
        runs.append(result)
        p50, p99 = result["p50_ms"], result["p99_ms"]
        print(
            f"  {rate:7.1f}/s sent: p50 {_ms(p50)}, p99 {_ms(p99)}, "
            f"answered {result['statuses']}, errors {result['errors']}"
            f"{'' if _passed(result) else '  <- not sustained'}",
            flush=True,
        )
        return _passed(result)

    best, failed = 0.0, 0.0
    if trial(start):
        best = rate = start
        for _ in range(25):
            rate *= STEP
            if not trial(rate):
                failed = rate
                break
            best = rate
    else:
        failed = rate = start
        for _ in range(12):
            rate /= STEP
            if trial(rate):
                best = rate
                break
            failed = rate
    if best and failed:
        for _ in range(refine):
            middle = math.sqrt(best * failed)
            if trial(middle):
                best = middle
            else:
                failed = middle
    return best, runs


def _ms(value: object) -> str:
    return "-" if value is None else f"{float(value):.1f} ms"  # type: ignore[arg-type]


def _p99_at(runs: list[Run], rate: float) -> float | None:
    for run in runs:
        if run["rate"] == rate and _passed(run):
            return float(run["p99_ms"])
    return None


def _best_within(runs: list[Run], p99_ms: float) -> float:
    """mlcost's highest sustained rate whose p99 is no higher than ``p99_ms``."""
    return max(
        (run["rate"] for run in runs if _passed(run) and float(run["p99_ms"]) <= p99_ms),
        default=0.0,
    )


def _timed(label: str, search: Callable[[], tuple[float, list[Run]]]) -> tuple[float, list[Run]]:
    print(label, flush=True)
    started = time.monotonic()
    best, runs = search()
    print(f"  -> sustained {best:.1f}/s ({len(runs)} runs, {time.monotonic() - started:.0f} s)")
    return best, runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=ROOT / ".mlcost-demo")
    parser.add_argument("--variant", default="int8-dynamic")
    parser.add_argument("--bentoml-max-latency-ms", type=int, default=BENTOML_MAX_LATENCY_MS)
    parser.add_argument("--quick", action="store_true", help="4 s runs, one bisection step")
    args = parser.parse_args()
    duration_s = 4.0 if args.quick else DURATION_S
    refine = 1 if args.quick else REFINE_STEPS
    from mlcost.core import Store, Workspace
    from mlcost.runtime import threads_allowed

    with Store.open(Workspace.resolve(args.home).db_url) as store:
        variants = [v for v in store.variants() if v.name == args.variant]
        profiles = [p for p in store.profiles(args.variant) if p.basis == "measured"]
    if not variants or variants[0].format != "onnx":
        print(f"no ONNX variant {args.variant} in {args.home}: run `make demo` first")
        return
    variant = variants[0]
    model_dir = Path(variant.path)
    session = dict(variant.recipe.get("session") or {})
    threads = threads_allowed()
    batch1_per_s = 1000.0 / profiles[-1].latency_ms_p50 if profiles else 100.0
    start = round(batch1_per_s * 0.5, 1)

    venv = _venv_module()
    python = venv.ensure_venv(BENTOML_VENV, BENTOML_DIR / "requirements.txt")
    versions = {
        "mlcost": importlib.metadata.version("mlcost"),
        "fastapi": importlib.metadata.version("fastapi"),
        "uvicorn": importlib.metadata.version("uvicorn"),
        "onnxruntime": importlib.metadata.version("onnxruntime"),
        "bentoml": _peer_version(python, "bentoml"),
        "bentoml_onnxruntime": _peer_version(python, "onnxruntime"),
        "bentoml_tokenizers": _peer_version(python, "tokenizers"),
    }
    bodies = tweet_bodies(as_list=True)
    print(f"serving {args.variant} ({model_dir}) on {cpu_label()}")
    print(
        f"mlcost {versions['mlcost']} (FastAPI {versions['fastapi']}, uvicorn "
        f"{versions['uvicorn']}, onnxruntime {versions['onnxruntime']}) vs BentoML "
        f"{versions['bentoml']} (onnxruntime {versions['bentoml_onnxruntime']}, tokenizers "
        f"{versions['bentoml_tokenizers']})"
    )
    print(
        f"both: 1 worker, {threads} intra-op threads, 1 inter-op, session {session or 'defaults'}, "
        f"max {MAX_LENGTH} tokens; one tweet per request; SLO p99 <= {SLO_P99_MS:g} ms; "
        f"{duration_s:g} s per rate from {start:g}/s"
    )
    mlcost_config = {
        "tiers": [
            {
                "name": "main",
                "variant": args.variant,
                "threads": threads,
                "max_tokens": MAX_LENGTH,
                "batching": {
                    "max_batch_size": MAX_BATCH_SIZE,
                    "max_queue_delay_ms": MLCOST_DELAY_MS,
                },
            }
        ]
    }

    def search_mlcost() -> tuple[float, list[Run]]:
        with running(args.home, mlcost_config) as (_, url):
            return _search(url, start, bodies, duration_s=duration_s, refine=refine)

    def search_bentoml() -> tuple[float, list[Run]]:
        with bentoml_running(
            venv,
            model_dir,
            threads=threads,
            session=session,
            max_latency_ms=args.bentoml_max_latency_ms,
        ) as url:
            return _search(url, start, bodies, duration_s=duration_s, refine=refine)

    mlcost, mlcost_runs = _timed(
        f"mlcost serve (max_batch_size {MAX_BATCH_SIZE}, max_queue_delay_ms {MLCOST_DELAY_MS}):",
        search_mlcost,
    )
    bento, bento_runs = _timed(
        f"BentoML (max_batch_size {MAX_BATCH_SIZE}, max_latency_ms {args.bentoml_max_latency_ms}, adaptive):",
        search_bentoml,
    )
    mlcost_p99 = _p99_at(mlcost_runs, mlcost)
    bento_p99 = _p99_at(bento_runs, bento)
    ratio = mlcost / bento if bento else math.inf
    iso = _best_within(mlcost_runs, bento_p99) if bento_p99 is not None else mlcost
    iso_ratio = iso / bento if bento else math.inf
    met = bool(mlcost) and iso_ratio >= TARGET_RATIO
    print(
        f"\nsustained at p99 <= {SLO_P99_MS:g} ms: mlcost {mlcost:.0f}/s (p99 {_ms(mlcost_p99)}) "
        f"vs BentoML {bento:.0f}/s (p99 {_ms(bento_p99)}) = {ratio:.2f}x"
    )
    print(
        f"at equal or lower p99 (<= BentoML's {_ms(bento_p99)}): mlcost {iso:.0f}/s = "
        f"{iso_ratio:.2f}x (target >= {TARGET_RATIO:g}x: {'met' if met else 'MISSED'})"
        + ("  [--quick: not a figure]" if args.quick else "")
    )
    print(
        json.dumps(
            {
                "variant": args.variant,
                "quick": args.quick,
                "slo_p99_ms": SLO_P99_MS,
                "mlcost_per_s": mlcost,
                "mlcost_p99_ms": mlcost_p99,
                "bentoml_per_s": bento,
                "bentoml_p99_ms": bento_p99,
                "ratio": ratio if bento else None,
                "mlcost_per_s_at_bentoml_p99": iso,
                "ratio_at_equal_p99": iso_ratio if bento else None,
                "target_met": met,
                "bentoml_max_latency_ms": args.bentoml_max_latency_ms,
                "versions": versions,
            }
        )
    )


if __name__ == "__main__":
    main()
