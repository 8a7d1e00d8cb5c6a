"""Catalog: prices -> Offers, with every price's source and date.

Input: the catalog shipped in ``catalog/data``, price files the user imports
(SkyPilot vms.csv, AWS Price List JSON), the user's overrides in the store.
Output: a Catalog of validated Offers and the price book (commitments,
serverless, transfer, storage).
"""

from __future__ import annotations

from mlcost.catalog._accelerators import (
    KNOWN_ACCELERATORS,
    AcceleratorSpec,
    canonical_accelerator,
    matches_accelerator,
)
from mlcost.catalog._catalog import (
    Catalog,
    OfferQuery,
    PriceBook,
    apply_overrides,
    layer_offers,
    load_catalog,
    load_shipped,
)
from mlcost.catalog._rows import OFFER_COLUMNS, Issue, find_duplicates, parse_offer_row

__all__ = [
    "KNOWN_ACCELERATORS",
    "OFFER_COLUMNS",
    "AcceleratorSpec",
    "Catalog",
    "Issue",
    "OfferQuery",
    "PriceBook",
    "apply_overrides",
    "canonical_accelerator",
    "find_duplicates",
    "layer_offers",
    "load_catalog",
    "load_shipped",
    "matches_accelerator",
    "parse_offer_row",
]
