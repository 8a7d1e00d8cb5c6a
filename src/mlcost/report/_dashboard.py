"""The report served live on a local port: every page drawn again from the sources on request.

    GET /                 the whole report, reloading itself every ``refresh_s`` seconds
    GET /sections/{key}   one section of it (404 for an unknown key)

The pages are the report file's, so what the dashboard shows and what ``mlcost report``
writes cannot differ.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from mlcost.core import require
from mlcost.report._build import build_report
from mlcost.report._page import render_html
from mlcost.report._sources import Sources

if TYPE_CHECKING:
    from fastapi import FastAPI

DEFAULT_REFRESH_S = 60


def dashboard_app(read: Callable[[], Sources], *, refresh_s: int = DEFAULT_REFRESH_S) -> FastAPI:
    """A FastAPI app serving the report of ``read()``, called anew for every page.

    Raises MissingDependencyError without FastAPI (the serve extra).
    """
    require("fastapi", extra="serve", purpose="the dashboard")
    from fastapi import FastAPI, HTTPException
    from fastapi.responses import HTMLResponse

    app = FastAPI(title="mlcost dashboard", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/", response_class=HTMLResponse)
    def whole() -> HTMLResponse:
        return HTMLResponse(render_html(build_report(read()), refresh_s=refresh_s))

    @app.get("/sections/{key}", response_class=HTMLResponse)
    def one(key: str) -> HTMLResponse:
        report = build_report(read())
        found = tuple(section for section in report.sections if section.key == key)
        if not found:
            known = ", ".join(section.key for section in report.sections)
            raise HTTPException(404, f"no section {key!r}; the sections are {known}")
        return HTMLResponse(render_html(replace(report, sections=found), refresh_s=refresh_s))

    return app


def serve_dashboard(read: Callable[[], Sources], *, host: str, port: int) -> None:
    """Serve ``dashboard_app(read)`` on ``host:port`` until interrupted.

    Raises MissingDependencyError without FastAPI or uvicorn (the serve extra).
    """
    uvicorn = require("uvicorn", extra="serve", purpose="the dashboard")
    uvicorn.run(dashboard_app(read), host=host, port=port, log_level="warning")
