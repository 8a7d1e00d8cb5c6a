"""mlcost's FOCUS checks beside the FinOps Foundation's focus-validator, on the same files.

Run: ``.venv/bin/python bench/focus_validator_compare.py``

Files: the shared FOCUS 1.0 sample and every spec example (../shared/data/focus/). The
validator runs in a venv of its own, built on first use from
bench/focus_validator/requirements.txt (.bench-venv/focus-validator, Python 3.11: its
newest release there is 1.0.0, which knows FOCUS 1.0 at most), so both sides check
every file against FOCUS 1.0. Each side's findings become (column, kind) pairs: a
missing column, a null where none may be, a value outside the allowed list, a date/time
or number out of format, a bad JSON object. The benchmark prints, per file, the pairs
both report (with their row counts when they differ), those only mlcost reports and
those only focus-validator reports, then the totals. Exits 0 (benchmarks report).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

from mlcost.finops import validate_focus_file

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.optimum.venv import ensure_venv  # noqa: E402 (bench/ is put on the path above)

FOCUS = ROOT.parent / "shared" / "data" / "focus"
VENV = ROOT / ".bench-venv" / "focus-validator"
REQUIREMENTS = ROOT / "bench" / "focus_validator" / "requirements.txt"
VERSION = "1.0"
# focus-validator's check suffix -> the kind of finding; mlcost's rules -> the same kinds.
PEER_KINDS = {
    "Required": "missing column",
    "NotNull": "null",
    "Nullable": "null",
    "Enum": "allowed value",
    "IsDateTime": "date/time format",
    "IsDecimal": "number format",
    "IsJSONObject": "JSON object",
    "IsString": "type",
    "IsCurrencyCode": "currency code",
}
MLCOST_KINDS = {
    "missing-column": "missing column",
    "not-null": "null",
    "must-be-null": "null",
    "case-variant": "allowed value",
    "not-allowed-value": "allowed value",
    "datetime-format": "date/time format",
    "not-a-datetime": "date/time format",
    "number-format": "number format",
    "not-a-number": "number format",
    "invalid-json": "JSON object",
}
_FAILED = re.compile(
    r"^(\w+?)_(\w+) failed:\n\tDescription: (.*)\n\tRows: (.*)\n\tExample values: (.*)$", re.M
)
# A check that raised (a KeyError on a column its rule names) reports the exception as
# its example value.
_ERRORED = re.compile(r"^\w+(Error|Exception)\(")

Findings = dict[tuple[str, str], str]


def peer_findings(python: Path, path: Path) -> Findings:
    """focus-validator's failures on ``path``: (column, kind) -> rows ("926-927,942").

    It opens its currency-code list by a path relative to the working directory
    (focus_validator/utils/currency_codes.csv), so it runs from its site-packages.
    """
    site = subprocess.run(
        [
            str(python),
            "-c",
            "import focus_validator, os; print(os.path.dirname(os.path.dirname(focus_validator.__file__)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    result = subprocess.run(
        [
            str(python.with_name("focus-validator")),
            "--data-file",
            str(path),
            "--validate-version",
            VERSION,
            "--output-type",
            "console",
        ],
        capture_output=True,
        text=True,
        cwd=site,
        env=env,
        timeout=300,
        check=False,
    )
    found: Findings = {}
    for column, check, _, rows, example in _FAILED.findall(result.stdout):
        kind = PEER_KINDS.get(check, check)
        if _ERRORED.match(example):
            kind = f"{kind}: the check errored ({example[:40]})"
        found[column, kind] = rows
    if result.returncode != 0 and not found:
        found["(run)", "failed"] = result.stderr.strip().splitlines()[-1] if result.stderr else "?"
    return found


def mlcost_findings(path: Path) -> Findings:
    """mlcost's findings on ``path`` checked as FOCUS 1.0, keyed as focus-validator's are."""
    found: Findings = {}
    for finding in validate_focus_file(path, focus_version=VERSION).findings:
        key = (finding.column, MLCOST_KINDS.get(finding.rule, finding.rule))
        found[key] = f"{finding.rows} rows" if finding.rows else "(whole file)"
    return found


def _row_count(rows: str) -> int | None:
    """How many rows focus-validator's "1-3,7" names; None for "(whole file)"."""
    if not rows or rows.startswith("("):
        return None
    total = 0
    for part in rows.split(","):
        first, _, last = part.partition("-")
        total += int(last or first) - int(first) + 1
    return total


def main() -> int:
    python = ensure_venv(VENV, REQUIREMENTS)
    files = [FOCUS / "focus-1.0-sample.csv", *sorted((FOCUS / "spec-examples").rglob("*.csv"))]
    totals: Counter[str] = Counter()
    only: dict[str, Counter[str]] = {"mlcost": Counter(), "focus-validator": Counter()}
    for path in files:
        ours, theirs = mlcost_findings(path), peer_findings(python, path)
        print(f"\n== {path.relative_to(FOCUS)}")
        for key in sorted(ours.keys() & theirs.keys()):
            counts = (ours[key].split()[0], _row_count(theirs[key]))
            same = str(counts[1]) == counts[0] or counts[1] is None
            print(
                f"  both  {key[0]}: {key[1]}"
                + ("" if same else f" (mlcost {ours[key]}, focus-validator rows {theirs[key]})")
            )
            totals["both"] += 1
        for side, mine, other in (("mlcost", ours, theirs), ("focus-validator", theirs, ours)):
            for key in sorted(mine.keys() - other.keys()):
                print(f"  only {side}  {key[0]}: {key[1]} ({mine[key]})")
                totals[f"only {side}"] += 1
                only[side][key[1]] += 1
    print(
        f"\n{len(files)} files checked as FOCUS {VERSION}: "
        + ", ".join(f"{n} {what}" for what, n in sorted(totals.items()))
    )
    for side, kinds in only.items():
        print(
            f"only {side}, by kind: " + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common())
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
