"""Variants + test rows -> Profiles: measured in one sitting, or reused from the store when fresh."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mlcost.core import (
    Profile,
    ProfileError,
    Store,
    UsageError,
    Variant,
    from_jsonable,
    hardware_key,
)
from mlcost.profile._measure import MeasureSettings
from mlcost.profile._profile import HeldOutRows, profile_variant
from mlcost.runtime import read_hardware, threads_allowed

if TYPE_CHECKING:
    from mlcost.compress import Inputs

# The cloud machine type a measurement runs on, when the machine cannot tell: a pod cannot read
# its node's labels, so each profiling Job (``mlcost deploy profile-jobs``) sets it from its own
# nodeSelector.
INSTANCE_TYPE_ENV = "MLCOST_INSTANCE_TYPE"


def test_rows(inputs: Inputs) -> HeldOutRows:
    """The held-out test split of checked inputs, as the rows every variant is measured on."""
    rows = inputs.split.test
    return HeldOutRows(
        tuple(inputs.data.texts[i] for i in rows),
        tuple(inputs.labels[i] for i in rows),
        inputs.data.source,
    )


def measure_variants(
    store: Store,
    variants: Sequence[Variant],
    rows: HeldOutRows,
    *,
    threads: int | None = None,
    latency_requests: int = 200,
    device: str = "cpu",
    instance_type: str | None = None,
    remeasure: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> list[Profile]:
    """A profile per variant on these rows and this machine: stored ones reused unless stale.

    ``variants`` starts with the baseline. New profiles are recorded in ``store``, their
    hardware named ``instance_type`` when given (the machine type this is).
    """
    hardware = replace(read_hardware(), instance_type=instance_type)
    settings = MeasureSettings(
        threads=threads or threads_allowed(), latency_requests=latency_requests, device=device
    )
    machine = hardware_key(hardware)
    cached = {
        v.name: None if remeasure else stored_profile(store, v, rows, machine) for v in variants
    }
    # The ratios in one table must come from one sitting (this machine's load drifts), and a
    # new variant is compared row by row with the baseline's predictions: if anything needs
    # measuring, everything is measured again.
    if any(p is None for p in cached.values()):
        cached = dict.fromkeys(cached)
    baseline_predictions: tuple[int, ...] | None = None
    profiles = []
    for variant in variants:
        stored = cached[variant.name]
        if stored is not None:
            say(f"  {variant.name}: profile from {stored.measured_at:%Y-%m-%d %H:%M} reused")
            profiles.append(stored)
            continue
        say(f"  {variant.name}: measuring ({settings.threads} threads)")
        measured = profile_variant(
            variant,
            rows,
            hardware=hardware,
            settings=settings,
            baseline_predictions=baseline_predictions,
            max_length=int(variant.recipe.get("max_length", 512)),
        )
        if variant.parent is None:
            baseline_predictions = measured.predictions
        store.record_profile(measured.profile)
        profiles.append(measured.profile)
    return profiles


def stored_profile(
    store: Store, variant: Variant, rows: HeldOutRows, machine: str
) -> Profile | None:
    """The latest measured profile of this very variant, on these rows, on this machine."""
    return latest_measured(
        store,
        variant,
        lambda p: p.data == rows.key and hardware_key(p.hardware) == machine,
    )


def latest_measured(
    store: Store, variant: Variant, also: Callable[[Profile], bool] = lambda _p: True
) -> Profile | None:
    """The latest measured profile of this very build of ``variant`` (its recipe key) for
    which ``also`` holds; None when there is none."""
    for profile in reversed(store.profiles(variant.name)):
        if (
            profile.basis == "measured"
            and profile.variant_key == variant.recipe.get("key")
            and also(profile)
        ):
            return profile
    return None


def load_profiles(files: Sequence[Path]) -> list[Profile]:
    """Every profile in every file (one, a list, or a compress report), all validated."""
    loaded: list[Profile] = []
    for file in files:
        try:
            raw = json.loads(file.read_text())
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}") from exc
        except ValueError as exc:
            raise ProfileError(
                f"{file}: not JSON ({exc}); export profiles with mlcost compress --json"
            ) from exc
        items = (
            raw
            if isinstance(raw, list)
            else raw.get("profiles", [raw])
            if isinstance(raw, dict)
            else [raw]
        )
        for number, item in enumerate(items, start=1):
            try:
                loaded.append(from_jsonable(Profile, item))
            except ValueError as exc:
                raise ProfileError(f"{file}: profile {number}: {exc}") from exc
    return loaded


def import_profiles(store: Store, files: Sequence[Path]) -> list[Profile]:
    """Validate every file first, then store them all: a bad file imports nothing."""
    if not files:
        raise UsageError("mlcost profile import needs at least one FILE")
    loaded = load_profiles(files)
    for profile in loaded:
        store.record_profile(profile)
    return loaded
