"""`plan_serving`: workload + variants + profiles + catalog -> the Plan."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from mlcost.catalog import Catalog
from mlcost.core import Plan, PlanError, Profile, Variant, Workload
from mlcost.plan._answer import answer
from mlcost.plan._search import SearchSettings, run_search
from mlcost.runtime import ONNX_FILE, count_flops


def plan_serving(
    workload: Workload,
    *,
    variants: Sequence[Variant],
    profiles: Sequence[Profile],
    catalog: Catalog,
    baseline: str = "baseline",
    settings: SearchSettings | None = None,
) -> Plan:
    """The cheapest configuration that meets ``workload``'s SLO, and how it was found.

    ``profiles`` may hold several per variant (this machine, imported ones); each
    offer uses a profile measured on its machine type when there is one, else an
    estimate from the newest. Profiles of an earlier build of a variant (another
    recipe key) are ignored. Raises PlanError when nothing was profiled, or, naming
    the binding constraint, when no candidate meets the SLO.
    """
    builds = {v.name: str(v.recipe.get("key", "")) for v in variants}
    by_variant: dict[str, list[Profile]] = {}
    for profile in sorted(profiles, key=lambda p: p.measured_at):
        build = builds.get(profile.variant, "")
        if profile.variant_key and build and profile.variant_key != build:
            continue  # measured on an earlier build of the variant
        by_variant.setdefault(profile.variant, []).append(profile)
    profiled = [v for v in variants if v.name in by_variant]
    if not profiled:
        raise PlanError(
            "no profiled variant in the workspace; run mlcost compress (or mlcost profile measure) "
            "first, or mlcost profile import FILE for profiles measured elsewhere"
        )
    settings = settings or SearchSettings()
    flops = variant_flops(profiled, by_variant) if _has_accelerators(catalog, workload) else {}
    search = run_search(
        workload,
        variants=variants,
        profiles=by_variant,
        catalog=catalog,
        baseline=baseline,
        flops=flops,
        settings=settings,
    )
    return answer(search, catalog, current_variant=baseline)


def _has_accelerators(catalog: Catalog, workload: Workload) -> bool:
    allowed = workload.constraints.accelerators
    return any(o.has_accelerator for o in catalog.offers) and allowed != ("cpu",)


def variant_flops(
    variants: Sequence[Variant], profiles: Mapping[str, Sequence[Profile]]
) -> dict[str, float]:
    """FLOPs per request of each variant at its profile's mean request length.

    Counted on the variant's ONNX graph; a PyTorch variant is counted on the FP32
    ONNX export made from it (its child), which computes the same thing. Variants
    with no graph on disk are left out (accelerator offers then mark them unfit).
    """
    graphs: dict[str, Path] = {}
    for variant in variants:
        path = Path(variant.path) / ONNX_FILE
        # INT8 graphs do not run on accelerators (no integer kernels in the CUDA provider).
        if variant.format == "onnx" and variant.precision != "int8" and path.is_file():
            graphs[variant.name] = path
    for variant in variants:
        if variant.format == "torch" and variant.name not in graphs:
            child = next(
                (
                    v
                    for v in variants
                    if v.parent == variant.name and v.precision == "fp32" and v.name in graphs
                ),
                None,
            )
            if child is not None:
                graphs[variant.name] = graphs[child.name]
    counted: dict[str, float] = {}
    for name, path in graphs.items():
        tokens = max(1, round(profiles[name][-1].tokens_mean))
        try:
            counted[name] = count_flops(path, tokens).total_flops
        except (OSError, ValueError) as exc:
            raise PlanError(f"cannot count the FLOPs of {name} in {path}: {exc}") from exc
    return counted
