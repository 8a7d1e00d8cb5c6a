"""CLI: thin Typer commands, one module per stage.

Input: command-line flags and files. Output: tables (or --json) on stdout,
one-line errors on stderr with exit code 2.
"""

from __future__ import annotations

from mlcost.cli._app import app, main

__all__ = ["app", "main"]
