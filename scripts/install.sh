#!/usr/bin/env bash
# The project's one install: `make setup` (.venv, '-e .[dev]') and the Dockerfile (the image's
# venv, '.[serve]') both run it, so the image holds exactly what the tests ran on.
# usage: scripts/install.sh PYTHON VENV PIP-SPEC...
# torch goes in first, with pip, pinned to the CPU build by constraints.txt (an unpinned torch pulls
# a CUDA build of several GB): pip finds that build where this machine's pip config points
# (find-links, extra index), which uv does not read. The rest, at the exact versions of
# constraints.txt, goes in with uv, which downloads in parallel (~90 s instead of ~200 s all-pip on
# 2 cores, cold caches) and keeps the torch already installed.
# --system-certs: where TLS goes through a proxy, its CA may be in the system store only.
# --compile-bytecode: pip writes .pyc files at install and uv does not; where the environment sets
# PYTHONDONTWRITEBYTECODE every process would compile transformers & co. from source on each start.
set -euo pipefail
python=$1 venv=$2
shift 2
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -c constraints.txt torch uv
"$venv/bin/uv" pip install -q --system-certs --compile-bytecode --python "$venv/bin/python" -c constraints.txt "$@"
