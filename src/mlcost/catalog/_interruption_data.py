"""Where the shipped spot interruption buckets come from, and how old they are."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from mlcost.core import CatalogError


@dataclass(frozen=True, slots=True)
class InterruptionData:
    """The provenance of the interruption buckets in the shipped offers.csv.

    ``as_of`` is the date the data was seen, ``source`` where (a URL pinned to a
    commit), and ``window`` the period its interruption frequency covers.
    """

    as_of: date
    source: str
    window: str


# AWS Spot Instance Advisor data (Linux, region-level) as committed in
# alexei-led/spotinfo; the Advisor's frequency of interruption covers the trailing month.
INTERRUPTION_DATA = InterruptionData(
    as_of=date(2025, 6, 28),
    source=(
        "https://github.com/alexei-led/spotinfo/blob/5bdc33cee2e185c2f62df29dd9c4ad0ad7102a74"
        "/internal/spot/data/spot-advisor-data.json"
    ),
    window="trailing month",
)


def interruption_data_age_days(today: date) -> int:
    """Days between the shipped interruption data's date and ``today``.

    Returns 0 or more; raises CatalogError when ``today`` is before the data's
    date (a wrong clock, or a wrong date passed in).
    """
    age_days = (today - INTERRUPTION_DATA.as_of).days
    if age_days < 0:
        raise CatalogError(
            f"today ({today.isoformat()}) is before the interruption data's date "
            f"({INTERRUPTION_DATA.as_of.isoformat()}); check the system clock or the date given"
        )
    return age_days
