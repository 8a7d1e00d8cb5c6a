"""The workspace: where mlcost keeps its store and artifacts."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlcost.core._errors import StoreError

HOME_ENV = "MLCOST_HOME"
DB_URL_ENV = "MLCOST_DB_URL"


@dataclass(frozen=True, slots=True)
class Workspace:
    """A folder holding ``mlcost.db`` (unless MLCOST_DB_URL names another store) and artifacts."""

    home: Path

    @classmethod
    def resolve(cls, home: Path | None = None) -> Workspace:
        """The workspace from --home, else $MLCOST_HOME, else ~/.mlcost."""
        if home is None:
            env_home = os.environ.get(HOME_ENV)
            home = Path(env_home) if env_home else Path.home() / ".mlcost"
        return cls(home.expanduser().resolve())

    @property
    def artifacts_dir(self) -> Path:
        return self.home / "artifacts"

    @property
    def db_url(self) -> str:
        """$MLCOST_DB_URL when set, else the SQLite file in the workspace."""
        return os.environ.get(DB_URL_ENV) or f"sqlite:///{self.home / 'mlcost.db'}"

    def ensure(self) -> Workspace:
        """Create the workspace folders; returns self. Raises StoreError when it cannot."""
        try:
            self.artifacts_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"cannot create the workspace at {self.home}: {exc.strerror}; "
                f"pass --home or set {HOME_ENV} to a writable folder"
            ) from exc
        return self
