"""Shared fixtures: the workspace store on SQLite and on a throwaway PostgreSQL server.

The PostgreSQL server is started once per test session from the local
``initdb``/``pg_ctl`` binaries (as the ``postgres`` OS user when we run as root,
because PostgreSQL refuses to run as root) and each test gets it emptied.
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import LiteralString

import pytest

from mlcost.core._store import Store

_PG_BINARIES = ("initdb", "pg_ctl", "postgres")
_PG_OS_USER = "postgres"
_PG_MISSING = "PostgreSQL not installed; run scripts/ensure-postgres.sh"


def _find_pg_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: PATH first, then Debian's layout."""
    found = [shutil.which(name) for name in _PG_BINARIES]
    if all(found):
        return Path(str(found[0])).resolve().parent
    # Newest major version first: /usr/lib/postgresql/16/bin before .../15/bin.
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else -1,
        reverse=True,
    )
    for bindir in candidates:
        if all((bindir / name).is_file() for name in _PG_BINARIES):
            return bindir
    return None


def _as_pg_user(argv: list[str]) -> list[str]:
    """``argv`` run as the postgres OS user when we are root (postgres refuses root)."""
    if os.geteuid() != 0:
        return argv
    if shutil.which("runuser"):
        return ["runuser", "-u", _PG_OS_USER, "--", *argv]
    return ["su", _PG_OS_USER, "-c", shlex.join(argv)]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run(argv: list[str], cwd: Path, what: str, log: Path | None = None) -> None:
    """Run a PostgreSQL tool; fail the session with its output when it fails."""
    result = subprocess.run(
        _as_pg_user(argv), cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        log_text = log.read_text(errors="replace")[-2000:] if log and log.exists() else ""
        pytest.fail(
            f"cannot {what}: {shlex.join(argv)} exited {result.returncode}\n"
            f"{result.stdout}{result.stderr}{log_text}",
            pytrace=False,
        )


def _prepare_root() -> Path:
    """A temp folder the postgres user owns (pytest's tmp dirs are root-only)."""
    root = Path(tempfile.mkdtemp(prefix="mlcost-pg-"))
    if os.geteuid() == 0:
        try:
            shutil.chown(root, user=_PG_OS_USER, group=_PG_OS_USER)
        except LookupError:
            shutil.rmtree(root)
            pytest.fail(f"running as root but there is no {_PG_OS_USER!r} OS user", pytrace=False)
    return root


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A running throwaway PostgreSQL server; yields the URL of its ``mlcost_test`` database."""
    bindir = _find_pg_bindir()
    if bindir is None:
        if os.environ.get("CI"):
            pytest.fail(f"{_PG_MISSING} (CI is set, so this is an error)", pytrace=False)
        pytest.skip(_PG_MISSING)
    root = _prepare_root()
    port = _free_port()
    try:
        _start_server(bindir, root, port)
        try:
            _create_database(port, "mlcost_test")
            yield f"postgresql://postgres@127.0.0.1:{port}/mlcost_test"
        finally:
            stop = [str(bindir / "pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"]
            _run(stop, root, "stop PostgreSQL")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _start_server(bindir: Path, root: Path, port: int) -> None:
    """initdb a data folder under ``root`` and start a server on 127.0.0.1:``port``.

    Durability is switched off (fsync, synchronous_commit, full_page_writes):
    the data is thrown away and the tests run several times faster.
    """
    data, log = root / "data", root / "server.log"
    initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"]
    _run([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], root, "initialise PostgreSQL")
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options]
    _run([*pg_ctl, "-w", "-t", "60", "start"], root, "start PostgreSQL", log)


def _conninfo(port: int, database: str) -> str:
    return f"host=127.0.0.1 port={port} user=postgres dbname={database} connect_timeout=10"


def _create_database(port: int, name: str) -> None:
    """CREATE DATABASE ``name``; it cannot run inside a transaction, hence autocommit."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_conninfo(port, "postgres"), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


_EMPTY_DATABASE_SQL: tuple[LiteralString, ...] = (
    # A test that failed may have left connections open; they would block the drop.
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
    " WHERE datname = current_database() AND pid <> pg_backend_pid()",
    "DROP SCHEMA public CASCADE",
    "CREATE SCHEMA public",
)


@pytest.fixture
def postgres_database(postgres_url: str) -> str:
    """The session's ``mlcost_test`` database, emptied for this test; returns its URL.

    Dropping and recreating the public schema takes milliseconds where a
    CREATE DATABASE per test takes about 0.3 s.
    """
    import psycopg

    port = int(postgres_url.rpartition("/")[0].rsplit(":", 1)[1])
    with psycopg.connect(_conninfo(port, "mlcost_test"), autocommit=True) as conn:
        for statement in _EMPTY_DATABASE_SQL:
            conn.execute(statement)
    return postgres_url


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of an empty store: a SQLite file under tmp_path, or a fresh PostgreSQL database.

    The SQLite file sits in a folder that does not exist yet, so opening must create it.
    """
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'workspace' / 'mlcost.db'}"
    url: str = request.getfixturevalue("postgres_database")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, migrated store at ``store_url``; closed after the test."""
    with Store.open(store_url) as opened:
        yield opened
