"""The report as one HTML page: no script, no external resource, charts inline, print-ready.

Colours come from CSS variables switched by ``prefers-color-scheme`` (and forced light
for print); the charts draw in ``currentColor``, so they follow. Fonts are the system's.
"""

from __future__ import annotations

from html import escape

from mlcost.report._build import Report
from mlcost.report._section import Section

_CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1f2328; --muted: #59636e;
  --line: #d1d9e0; --panel: #f6f8fa; --estimated: #9a6700; --measured: #1a7f37;
  --warn-bg: #fff8c5; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #30363d;
    --panel: #161b22; --estimated: #d29922; --measured: #3fb950; --warn-bg: #2d2610; } }
@media print {
  :root { color-scheme: light; --bg: #ffffff; --fg: #000000; --muted: #444444;
    --line: #bbbbbb; --panel: #ffffff; --estimated: #7a5200; --measured: #1a5f2a;
    --warn-bg: #ffffff; }
  nav { display: none; }
  section, figure, tr { break-inside: avoid; } }
body { margin: 0 auto; max-width: 72rem; padding: 1rem 1.5rem 3rem; background: var(--bg);
  color: var(--fg); line-height: 1.45;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
h1 { margin-bottom: .25rem; } h2 { margin: 0 0 .25rem; font-size: 1.3rem; }
header p { margin: .2rem 0; color: var(--muted); }
.estimated-banner, .warning { background: var(--warn-bg); border-left: 4px solid var(--estimated);
  padding: .4rem .7rem; margin: .5rem 0; }
nav { margin: 1rem 0; display: flex; flex-wrap: wrap; gap: .3rem 1rem; font-size: .9rem; }
a { color: inherit; }
section { border-top: 1px solid var(--line); padding: 1.2rem 0; }
.takeaway { font-size: 1.05rem; font-weight: 600; margin: .3rem 0 .6rem; }
.no-data { background: var(--panel); border: 1px dashed var(--line); padding: .8rem 1rem;
  color: var(--muted); }
figure { margin: .5rem 0; } .chart-svg { width: 100%; height: auto; color: var(--fg); }
figcaption, .basis, .notes, .prices { font-size: .85rem; color: var(--muted); }
.badge { display: inline-block; font-size: .7rem; font-weight: 700; text-transform: uppercase;
  letter-spacing: .04em; border: 1px solid currentColor; border-radius: .6rem;
  padding: 0 .45rem; vertical-align: middle; margin-left: .3rem; }
.badge.estimated { color: var(--estimated); } .badge.measured { color: var(--measured); }
.basis { list-style: none; padding: 0; margin: .4rem 0; } .basis li { margin: .15rem 0; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: .82rem; margin: .5rem 0; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .5rem; text-align: left;
  vertical-align: top; }
th { background: var(--panel); } td.num, th.num { text-align: right; white-space: nowrap; }
td.long { overflow-wrap: anywhere; } td.short { white-space: nowrap; }
"""
# Cells longer than this (sources, URLs) may break anywhere rather than widen the table;
# those this short (dates, counts, names) never break.
_LONG_CELL = 60
_SHORT_CELL = 12


def render_html(report: Report, *, refresh_s: int | None = None) -> str:
    """The whole page; with ``refresh_s`` the browser reloads it that often (the dashboard)."""
    refresh = f'<meta http-equiv="refresh" content="{refresh_s}">' if refresh_s else ""
    nav = "".join(f'<a href="#{escape(s.key)}">{escape(s.title)}</a>' for s in report.sections)
    return "".join(
        (
            '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="color-scheme" content="light dark">',
            refresh,
            # An empty icon, so that no browser asks the server (or the disk) for one.
            '<link rel="icon" href="data:,">',
            f"<title>{escape(report.title)}</title><style>{_CSS}</style></head><body>",
            _header(report),
            f"<nav>{nav}</nav><main>",
            "".join(render_section(section) for section in report.sections),
            "</main></body></html>\n",
        )
    )


def render_section(section: Section) -> str:
    """One section: its panel when the data is missing, else chart, labels, table, prices."""
    key = escape(section.key)
    title = f"<h2>{escape(section.title)}{_badges(section.basis)}</h2>"
    if not section.has_data:
        return (
            f'<section id="{key}" data-section="{key}" data-has-data="false">{title}'
            f'<p class="no-data">{escape(section.missing)}</p></section>'
        )
    parts = [
        f'<section id="{key}" data-section="{key}" data-has-data="true">{title}',
        f'<p class="takeaway">{escape(section.takeaway)}</p>',
    ]
    if section.chart_svg:
        parts.append(
            f'<figure class="chart" data-chart="{key}">{section.chart_svg}'
            f"<figcaption>{_basis(section.basis)}</figcaption></figure>"
        )
    else:
        parts.append(_basis(section.basis))
    if section.rows:
        parts.append(_table(section.columns, section.rows))
    if section.prices:
        parts.append(
            f'<p class="prices">{escape(_prices_summary(section))}: each with its '
            'source under <a href="#prices">Prices and their dates</a>.</p>'
        )
    if section.notes:
        parts.append(
            '<ul class="notes">'
            + "".join(f"<li>{escape(note)}</li>" for note in section.notes)
            + "</ul>"
        )
    parts.append("</section>")
    return "".join(parts)


def _prices_summary(section: Section) -> str:
    """``12 prices behind these figures, dated 2020-12-01 to 2026-09-20, 3 undated``."""
    dates = sorted(line.as_of for line in section.prices if line.as_of is not None)
    undated = len(section.prices) - len(dates)
    text = f"{len(section.prices)} prices behind these figures"
    if dates:
        text += f", dated {dates[0]} to {dates[-1]}"
    return text + (f", {undated} undated" if undated else "")


def _header(report: Report) -> str:
    lines = "".join(f"<p>{escape(line)}</p>" for line in report.summary)
    banner = (
        f'<p class="estimated-banner">{escape(report.estimated)}</p>' if report.estimated else ""
    )
    warnings = "".join(f'<p class="warning">prices: {escape(note)}</p>' for note in report.warnings)
    return f"<header><h1>{escape(report.title)}</h1>{lines}{banner}{warnings}</header>"


def _badges(basis: tuple[str, ...]) -> str:
    """A badge per kind of figure in ``basis``: measured, estimated, or both."""
    kinds = dict.fromkeys(line.split(":", 1)[0] for line in basis)
    return "".join(f'<span class="badge {escape(k)}">{escape(k)}</span>' for k in kinds)


def _basis(basis: tuple[str, ...]) -> str:
    items = "".join(
        f"<li>{_badges((line,))} {escape(line.split(':', 1)[1].strip())}</li>" for line in basis
    )
    return f'<ul class="basis">{items}</ul>' if items else ""


def _table(columns: tuple[str, ...], rows: tuple[tuple[str, ...], ...]) -> str:
    numeric = [column.startswith(("$", "%", "mean")) or "/month" in column for column in columns]
    head = "".join(_cell("th", c, n) for c, n in zip(columns, numeric, strict=True))
    body = "".join(
        "<tr>"
        + "".join(_cell("td", cell, n) for cell, n in zip(row, numeric, strict=True))
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-wrap"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _cell(tag: str, text: str, is_numeric: bool) -> str:
    """A table cell: figures right-aligned and whole, long text (sources, URLs) broken anywhere."""
    if is_numeric:
        kind = "num"
    elif len(text) > _LONG_CELL:
        kind = "long"
    else:
        kind = "short" if len(text) <= _SHORT_CELL else ""
    attribute = f' class="{kind}"' if kind else ""
    return f"<{tag}{attribute}>{escape(text)}</{tag}>"
