"""Benchmark peers in virtual environments of their own, driven from mlcost's main venv.

A peer (Hugging Face Optimum, Optimum Intel) pins a transformers that mlcost's main venv
cannot share, so each lives in a venv built from its own requirements file. The venv
only *produces* the peer's quantized model (a script that prints one JSON line); the
benchmark measures it with the main venv's runtime. Standard library only, so the main
venv can import this module without any peer installed:

    from bench.optimum.venv import ensure_venv, quantize_with_optimum, run_json

    python = ensure_venv(Path(".bench-venv/optimum"))
    result = quantize_with_optimum(python, model_dir, out_dir)
    result["onnx"], result["inputs"]

    python = ensure_venv(Path(".bench-venv/optimum-intel"), OTHER_REQUIREMENTS, no_deps=True)
    result = run_json(python, SCRIPT, [model_dir, out_dir], what="Optimum Intel quantization")
"""

from __future__ import annotations

import collections
import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
QUANTIZE_SCRIPT = HERE / "quantize.py"
PYTHON_VERSION = "3.11"
STAMP_NAME = ".requirements.sha256"
_TAIL_LINES = 40

# Variables that would let the main venv (or the caller's setup) leak into a peer venv.
_LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONNOUSERSITE")


def _log(message: str) -> None:
    print(f"[bench-venv] {message}", file=sys.stderr, flush=True)


def _requirements_sha256(requirements: Path, no_deps: bool) -> str:
    content = requirements.read_bytes()
    if no_deps:  # the same pins installed another way are another venv
        content += b"\n# pip install --no-deps\n"
    return hashlib.sha256(content).hexdigest()


def _venv_python(root: Path) -> Path:
    if os.name == "nt":
        return root / "Scripts" / "python.exe"
    return root / "bin" / "python"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _LEAKY_VARIABLES}
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env


def _base_python() -> str:
    found = shutil.which(f"python{PYTHON_VERSION}")
    if found:
        return found
    if f"{sys.version_info.major}.{sys.version_info.minor}" == PYTHON_VERSION:
        return sys.executable
    raise RuntimeError(
        f"python{PYTHON_VERSION} is needed to build a benchmark peer's venv and is not on PATH"
    )


@contextlib.contextmanager
def _lock(root: Path) -> Iterator[None]:
    """One builder at a time for a given venv (parallel benchmark runs share it)."""
    root.parent.mkdir(parents=True, exist_ok=True)
    with (root.parent / f".{root.name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_logged(command: list[str], what: str) -> None:
    """Run command, relaying its output to stderr; RuntimeError with the tail if it fails."""
    tail: collections.deque[str] = collections.deque(maxlen=_TAIL_LINES)
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
        env=_clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1"),
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            print(f"  {line.rstrip()}", file=sys.stderr, flush=True)
        code = process.wait()
    if code != 0:
        raise RuntimeError(f"{what} failed (exit {code}):\n" + "\n".join(tail))


def _is_current(root: Path, digest: str) -> bool:
    stamp = root / STAMP_NAME
    return stamp.is_file() and stamp.read_text().strip() == digest and _venv_python(root).exists()


def ensure_venv(root: Path, requirements: Path = REQUIREMENTS, *, no_deps: bool = False) -> Path:
    """The python of the venv at root, (re)built if missing or its requirements changed.

    requirements defaults to Optimum's (requirements.txt beside this file). no_deps
    installs exactly the listed pins and nothing they would pull in, for a complete
    freeze that deliberately leaves out a declared dependency. The venv is rebuilt from
    scratch when the requirements' sha256 differs from the stamp written after the last
    successful install, so it always matches the pins exactly.
    """
    root = Path(root).absolute()
    requirements = Path(requirements).absolute()
    digest = _requirements_sha256(requirements, no_deps)
    if _is_current(root, digest):
        return _venv_python(root)

    with _lock(root):
        if _is_current(root, digest):  # built by someone else while we waited
            return _venv_python(root)
        started = time.monotonic()
        if root.exists():
            if not (root / "pyvenv.cfg").is_file():
                raise RuntimeError(
                    f"{root} exists and is not a virtual environment; not touching it"
                )
            _log(f"requirements changed or install incomplete: removing {root}")
            shutil.rmtree(root)
        base = _base_python()
        _log(f"creating venv {root} with {base}")
        _run_logged([base, "-m", "venv", str(root)], "python -m venv")
        python = _venv_python(root)
        _log(f"pip install -r {requirements} (a few minutes: torch and the peer's stack)")
        command = [str(python), "-m", "pip", "install", "--no-input", "-r", str(requirements)]
        if no_deps:
            command.insert(-2, "--no-deps")
        _run_logged(command, "pip install")
        (root / STAMP_NAME).write_text(digest + "\n")
        _log(f"venv ready in {time.monotonic() - started:.0f} s: {python}")
        return python


def run_json(
    python: Path,
    script: Path,
    arguments: Sequence[str | Path],
    *,
    what: str,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run script with a peer venv's python, offline; the last line of its stdout as JSON.

    RuntimeError naming what (e.g. "Optimum quantization") with the script's stderr tail
    if it fails, times out or prints no JSON.
    """
    command = [str(python), str(script), *map(str, arguments)]
    _log(f"{what}: {' '.join(map(str, arguments))}")
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            env=_clean_env(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1"),
        )
    except subprocess.TimeoutExpired as error:
        stderr = error.stderr.decode() if isinstance(error.stderr, bytes) else (error.stderr or "")
        raise RuntimeError(f"{what} timed out after {timeout} s:\n{_tail(stderr)}") from error
    if completed.returncode != 0:
        raise RuntimeError(
            f"{what} failed (exit {completed.returncode}):\n{_tail(completed.stderr)}"
        )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as error:
        raise RuntimeError(
            f"{what} printed no JSON result; stdout:\n"
            f"{_tail(completed.stdout)}\nstderr:\n{_tail(completed.stderr)}"
        ) from error
    return result


def quantize_with_optimum(
    python: Path,
    model_dir: Path,
    out_dir: Path,
    *,
    per_channel: bool = False,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Run quantize.py with the Optimum venv's python; its JSON result as a dict.

    Keys: onnx (quantized model path), inputs, outputs, fp32_onnx, per_channel, optimum,
    optimum_onnx, transformers, onnxruntime. RuntimeError with the script's stderr tail
    if it fails.
    """
    arguments: list[str | Path] = [model_dir, out_dir]
    if per_channel:
        arguments.append("--per-channel")
    return run_json(
        python, QUANTIZE_SCRIPT, arguments, what="Optimum quantization", timeout=timeout
    )


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-_TAIL_LINES:])


if __name__ == "__main__":
    # python bench/optimum/venv.py VENV_ROOT [MODEL_DIR OUT_DIR]
    venv_python = ensure_venv(Path(sys.argv[1]))
    if len(sys.argv) == 4:
        print(json.dumps(quantize_with_optimum(venv_python, Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        print(venv_python)
