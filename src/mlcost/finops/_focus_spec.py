"""The FOCUS specification as tables: the columns of each version and what they must hold.

Read from the FinOps Foundation's specification, https://focus.finops.org/focus-specification/
(one page per version: v1-0, v1-1, v1-2, v1-3), its column pages (Feature level, Allows
nulls, Allowed values) and, for the conditional nullability rules, the FOCUS 1.2
requirements model that the foundation's focus-validator ships (model-1.2.0.1.json).
"""

from __future__ import annotations

from dataclasses import dataclass

FOCUS_VERSIONS = ("1.0", "1.1", "1.2", "1.3")
SPEC_URLS = {
    version: f"https://focus.finops.org/focus-specification/v{version.replace('.', '-')}/"
    for version in FOCUS_VERSIONS
}

# Feature level "Mandatory" in 1.0; 1.1 and 1.2 keep the same 21. 1.3 adds the two
# provider columns that replace ProviderName and PublisherName, which it deprecates but
# still requires.
_MANDATORY_SINCE_1_0 = (
    "BilledCost",
    "BillingAccountId",
    "BillingAccountName",
    "BillingCurrency",
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
    "ChargeClass",
    "ChargeDescription",
    "ChargePeriodEnd",
    "ChargePeriodStart",
    "ContractedCost",
    "EffectiveCost",
    "InvoiceIssuerName",
    "ListCost",
    "PricingQuantity",
    "PricingUnit",
    "ProviderName",
    "PublisherName",
    "ServiceCategory",
    "ServiceName",
)
REQUIRED_COLUMNS: dict[str, tuple[str, ...]] = {
    "1.0": _MANDATORY_SINCE_1_0,
    "1.1": _MANDATORY_SINCE_1_0,
    "1.2": _MANDATORY_SINCE_1_0,
    "1.3": (*_MANDATORY_SINCE_1_0, "HostProviderName", "ServiceProviderName"),
}

# The columns each version introduced (Mandatory, Conditional, Recommended alike).
INTRODUCED_COLUMNS: dict[str, tuple[str, ...]] = {
    "1.0": (
        *_MANDATORY_SINCE_1_0,
        "AvailabilityZone",
        "ChargeFrequency",
        "CommitmentDiscountCategory",
        "CommitmentDiscountId",
        "CommitmentDiscountName",
        "CommitmentDiscountStatus",
        "CommitmentDiscountType",
        "ConsumedQuantity",
        "ConsumedUnit",
        "ContractedUnitPrice",
        "ListUnitPrice",
        "PricingCategory",
        "RegionId",
        "RegionName",
        "ResourceId",
        "ResourceName",
        "ResourceType",
        "SkuId",
        "SkuPriceId",
        "SubAccountId",
        "SubAccountName",
        "Tags",
    ),
    "1.1": (
        "CapacityReservationId",
        "CapacityReservationStatus",
        "CommitmentDiscountQuantity",
        "CommitmentDiscountUnit",
        "ServiceSubcategory",
        "SkuMeter",
        "SkuPriceDetails",
    ),
    "1.2": (
        "BillingAccountType",
        "InvoiceId",
        "PricingCurrency",
        "PricingCurrencyContractedUnitPrice",
        "PricingCurrencyEffectiveCost",
        "PricingCurrencyListUnitPrice",
        "SubAccountType",
    ),
    "1.3": (
        "AllocatedMethodDetails",
        "AllocatedMethodId",
        "AllocatedResourceId",
        "AllocatedResourceName",
        "AllocatedTags",
        "ContractApplied",
        "HostProviderName",
        "ServiceProviderName",
    ),
}

NUMERIC_COLUMNS = (
    "BilledCost",
    "CommitmentDiscountQuantity",
    "ConsumedQuantity",
    "ContractedCost",
    "ContractedUnitPrice",
    "EffectiveCost",
    "ListCost",
    "ListUnitPrice",
    "PricingCurrencyContractedUnitPrice",
    "PricingCurrencyEffectiveCost",
    "PricingCurrencyListUnitPrice",
    "PricingQuantity",
)
DATETIME_COLUMNS = (
    "BillingPeriodEnd",
    "BillingPeriodStart",
    "ChargePeriodEnd",
    "ChargePeriodStart",
)
# Key-value columns: a JSON object each (the spec's "Key-Value Format").
JSON_COLUMNS = (
    "AllocatedMethodDetails",
    "AllocatedTags",
    "ContractApplied",
    "SkuPriceDetails",
    "Tags",
)
# Unit prices "MUST be a non-negative decimal value"; costs may be negative (credits).
NON_NEGATIVE_COLUMNS = ("ContractedUnitPrice", "ListUnitPrice", "PricingCurrencyListUnitPrice")
COST_COLUMNS = ("BilledCost", "ContractedCost", "EffectiveCost", "ListCost")

ALLOWED_VALUES: dict[str, tuple[str, ...]] = {
    "ChargeCategory": ("Adjustment", "Credit", "Purchase", "Tax", "Usage"),
    "ChargeClass": ("Correction",),
    "ChargeFrequency": ("One-Time", "Recurring", "Usage-Based"),
    "CommitmentDiscountCategory": ("Spend", "Usage"),
    "CommitmentDiscountStatus": ("Unused", "Used"),
    "CapacityReservationStatus": ("Unused", "Used"),
    "PricingCategory": ("Committed", "Dynamic", "Other", "Standard"),
    "ServiceCategory": (
        "AI and Machine Learning",
        "Analytics",
        "Business Applications",
        "Compute",
        "Databases",
        "Developer Tools",
        "Identity",
        "Integration",
        "Internet of Things",
        "Management and Governance",
        "Media",
        "Migration",
        "Mobile",
        "Multicloud",
        "Networking",
        "Other",
        "Security",
        "Storage",
        "Web",
    ),
}

# "MUST NOT be null" without a condition (checked where the column is present): the
# Mandatory columns less those that may be null (a name, a correction's class, a
# description, the quantity and unit of a charge that has none), and ChargeFrequency.
_MAY_BE_NULL = (
    "BillingAccountName",
    "ChargeClass",
    "ChargeDescription",
    "PricingQuantity",
    "PricingUnit",
)
NOT_NULL_COLUMNS: dict[str, tuple[str, ...]] = {
    version: (*(c for c in required if c not in _MAY_BE_NULL), "ChargeFrequency")
    for version, required in REQUIRED_COLUMNS.items()
}

_IS_BILLABLE = (
    "\"ChargeCategory\" IN ('Usage', 'Purchase') AND \"ChargeClass\" IS DISTINCT FROM 'Correction'"
)
_BILLABLE_TEXT = 'ChargeCategory is "Usage" or "Purchase" and ChargeClass is not "Correction"'


@dataclass(frozen=True, slots=True)
class NullRule:
    """A conditional nullability requirement: ``column`` MUST (NOT) be null when ``when_sql``.

    ``when_sql`` is a DuckDB condition over the typed columns; ``when`` says it in words.
    """

    column: str
    must_be_null: bool
    when_sql: str
    when: str


NULL_RULES: tuple[NullRule, ...] = (
    NullRule("PricingCategory", False, _IS_BILLABLE, _BILLABLE_TEXT),
    NullRule("PricingCategory", True, "\"ChargeCategory\" = 'Tax'", 'ChargeCategory is "Tax"'),
    *(
        NullRule(column, False, _IS_BILLABLE, _BILLABLE_TEXT)
        for column in (
            "ListUnitPrice",
            "ContractedUnitPrice",
            "PricingQuantity",
            "SkuId",
            "SkuPriceId",
        )
    ),
    NullRule(
        "CommitmentDiscountStatus",
        False,
        '"CommitmentDiscountId" IS NOT NULL AND "ChargeCategory" = \'Usage\'',
        'CommitmentDiscountId is set and ChargeCategory is "Usage"',
    ),
    *(
        NullRule(column, True, '"CommitmentDiscountId" IS NULL', "CommitmentDiscountId is null")
        for column in ("CommitmentDiscountCategory", "CommitmentDiscountStatus")
    ),
    NullRule(
        "CommitmentDiscountCategory",
        False,
        '"CommitmentDiscountId" IS NOT NULL',
        "CommitmentDiscountId is set",
    ),
    NullRule(
        "ConsumedQuantity",
        True,
        "\"ChargeCategory\" IS DISTINCT FROM 'Usage' OR \"CommitmentDiscountStatus\" = 'Unused'",
        'ChargeCategory is not "Usage", or the row is an unused commitment',
    ),
    *(
        NullRule(unit, False, f'"{quantity}" IS NOT NULL', f"{quantity} is set")
        for unit, quantity in (
            ("ConsumedUnit", "ConsumedQuantity"),
            ("PricingUnit", "PricingQuantity"),
            ("RegionName", "RegionId"),
            ("ResourceType", "ResourceId"),
            ("SubAccountName", "SubAccountId"),
        )
    ),
)


def columns_of(version: str) -> frozenset[str]:
    """Every column FOCUS ``version`` defines: what it introduced and every earlier one did."""
    known = FOCUS_VERSIONS[: FOCUS_VERSIONS.index(version) + 1]
    return frozenset(column for v in known for column in INTRODUCED_COLUMNS[v])


def version_introducing(column: str) -> str | None:
    """The FOCUS version that introduced ``column``; None when no version defines it."""
    for version in FOCUS_VERSIONS:
        if column in INTRODUCED_COLUMNS[version]:
            return version
    return None


def detect_version(columns: frozenset[str]) -> str:
    """The newest FOCUS version any of ``columns`` was introduced in ("1.0" for none)."""
    found = [v for v in map(version_introducing, columns) if v is not None]
    return max(found, key=FOCUS_VERSIONS.index, default="1.0")
