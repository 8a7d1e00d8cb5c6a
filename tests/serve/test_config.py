"""serve.yaml: defaults, FILE:LINE errors, and the shutdown chain it must keep."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlcost.core import ServeError
from mlcost.serve import load_serve_config, single_variant_config

ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, text: str) -> object:
    path = tmp_path / "serve.yaml"
    path.write_text(text, encoding="utf-8")
    return load_serve_config(path)


def test_the_example_file_loads_with_its_documented_defaults() -> None:
    config = load_serve_config(ROOT / "examples" / "serve.yaml")
    assert [t.name for t in config.tiers] == ["student", "teacher"]
    defaults = single_variant_config("x", "127.0.0.1", 8000)
    assert config.limits == defaults.limits
    assert config.shutdown == defaults.shutdown
    assert config.tiers[0].batching == defaults.tiers[0].batching
    assert config.machine is not None and config.machine.instance_type == "c7i.large"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "tiers:\n  - name: a\n    variant: x\n    batching:\n      max_batch_sise: 4\n",
            ":5: tiers.0.batching.max_batch_sise: unknown key; did you mean max_batch_size?",
        ),
        (
            "tiers:\n  - name: a\n    variant: x\n    batching: {max_batch_size: 0}\n",
            ":4: tiers.0.batching.max_batch_size: got 0; give a number greater than or equal to 1",
        ),
        ("tiers:\n  - name: a\n", ":2: tiers.0: give exactly one of variant"),
        ("tiers:\n  - name: a\n    remote: {url: http://x:1}\n", "tier 1 must be a local variant"),
        (
            "tiers:\n  - {name: a, variant: x}\n  - {name: a, variant: y}\n",
            "two tiers share a name",
        ),
        (
            "tiers: [{name: a, variant: x}]\nshutdown: {drain_delay_s: 20}\n",
            "drain_delay_s + limits.request_timeout_s + flush_s = 27 s must be below grace_period_s (25 s)",
        ),
        (
            "tiers: [{name: a, variant: x}]\nspot: {cloud: gcp}\nshutdown: {grace_period_s: 40}\n",
            "grace_period_s (40 s) must fit in gcp's spot notice (30 s)",
        ),
        (
            "tiers: [{name: a, variant: x}]\nmachine: {instance_type: c7i.large}\n",
            "give price_usd_per_hour, or provider, region and instance_type",
        ),
        (
            "tiers: [{name: a, variant: x}]\ncascade: {threshold_file: nowhere.json}\n",
            ":2: cascade.threshold_file: no file at",
        ),
        ("", ":1: the file is empty; start from examples/serve.yaml"),
        (
            "tiers: [{name: a, variant: x}]\ntiers: []\n",
            ":2: tiers: duplicate key (first on line 1)",
        ),
    ],
)
def test_a_wrong_file_gets_one_line_with_its_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ServeError) as caught:
        _load(tmp_path, text)
    message = str(caught.value)
    assert expected in message
    assert message.startswith(str(tmp_path / "serve.yaml")) and "\n" not in message


def test_spot_within_gcps_window_is_fine(tmp_path: Path) -> None:
    config = _load(
        tmp_path,
        "tiers: [{name: a, variant: x}]\nspot: {cloud: gcp}\n"
        "shutdown: {grace_period_s: 20, drain_delay_s: 3}\nlimits: {request_timeout_s: 5}\n",
    )
    assert config.spot.cloud == "gcp"  # type: ignore[attr-defined]
