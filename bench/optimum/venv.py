"""Hugging Face Optimum in a virtual environment of its own, driven from mlcost's main venv.

Optimum's ONNX support (optimum-onnx) pins transformers 4.x while mlcost runs on
transformers 5, so Optimum lives in a separate venv built from requirements.txt beside
this file. That venv only *produces* the quantized ONNX file (quantize.py); the benchmark
measures it with the main venv's onnxruntime. Standard library only, so the main venv
can import this module without Optimum installed:

    from bench.optimum.venv import ensure_venv, quantize_with_optimum

    python = ensure_venv(Path(".bench-venv/optimum"))
    result = quantize_with_optimum(python, model_dir, out_dir)
    result["onnx"], result["inputs"]
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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REQUIREMENTS = HERE / "requirements.txt"
QUANTIZE_SCRIPT = HERE / "quantize.py"
PYTHON_VERSION = "3.11"
STAMP_NAME = ".requirements.sha256"
_TAIL_LINES = 40

# Variables that would let the main venv (or the caller's setup) leak into the Optimum venv.
_LEAKY_VARIABLES = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONNOUSERSITE")


def _log(message: str) -> None:
    print(f"[optimum-venv] {message}", file=sys.stderr, flush=True)


def _requirements_sha256() -> str:
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


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
        f"python{PYTHON_VERSION} is needed to build the Optimum venv and is not on PATH"
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


def ensure_venv(root: Path) -> Path:
    """The Optimum venv's python at root, (re)built if missing or requirements.txt changed.

    The venv is rebuilt from scratch when the requirements' sha256 differs from the stamp
    written after the last successful install, so it always matches the pins exactly.
    """
    root = Path(root).absolute()
    digest = _requirements_sha256()
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
        _log(f"pip install -r {REQUIREMENTS} (a few minutes: torch, onnxruntime, optimum)")
        _run_logged(
            [str(python), "-m", "pip", "install", "--no-input", "-r", str(REQUIREMENTS)],
            "pip install",
        )
        (root / STAMP_NAME).write_text(digest + "\n")
        _log(f"venv ready in {time.monotonic() - started:.0f} s: {python}")
        return python


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
    command = [str(python), str(QUANTIZE_SCRIPT), str(model_dir), str(out_dir)]
    if per_channel:
        command.append("--per-channel")
    _log(f"quantizing {model_dir} -> {out_dir} with Optimum")
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
        raise RuntimeError(
            f"Optimum quantization timed out after {timeout} s:\n{_tail(stderr)}"
        ) from error
    if completed.returncode != 0:
        raise RuntimeError(
            f"Optimum quantization failed (exit {completed.returncode}):\n{_tail(completed.stderr)}"
        )
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError) as error:
        raise RuntimeError(
            "Optimum quantization printed no JSON result; stdout:\n"
            f"{_tail(completed.stdout)}\nstderr:\n{_tail(completed.stderr)}"
        ) from error
    return result


def _tail(text: str) -> str:
    return "\n".join(text.splitlines()[-_TAIL_LINES:])


if __name__ == "__main__":
    # python bench/optimum/venv.py VENV_ROOT [MODEL_DIR OUT_DIR]
    venv_python = ensure_venv(Path(sys.argv[1]))
    if len(sys.argv) == 4:
        print(json.dumps(quantize_with_optimum(venv_python, Path(sys.argv[2]), Path(sys.argv[3]))))
    else:
        print(venv_python)
