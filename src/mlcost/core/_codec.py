"""Values to and from JSON-able dicts, validated on the way in (pydantic over the dataclasses)."""

from __future__ import annotations

from typing import Any, TypeVar

import pydantic

T = TypeVar("T")


_ADAPTERS: dict[type[Any], pydantic.TypeAdapter[Any]] = {}


def _adapter(cls: type[Any]) -> pydantic.TypeAdapter[Any]:
    """One TypeAdapter per class: building one compiles a validator, so they are kept."""
    if cls not in _ADAPTERS:
        _ADAPTERS[cls] = pydantic.TypeAdapter(cls)
    return _ADAPTERS[cls]


def to_jsonable(value: Any) -> Any:
    """A dataclass value as plain JSON types (datetimes as ISO text, tuples as lists)."""
    return _adapter(type(value)).dump_python(value, mode="json")


def from_jsonable(cls: type[T], data: Any) -> T:
    """Validate ``data`` (parsed JSON) into ``cls``.

    Raises ValueError whose message names the first bad field and why
    ("hardware.logical_cpus: Input should be a valid integer").
    """
    try:
        value: T = _adapter(cls).validate_python(data, strict=False)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or cls.__name__
        raise ValueError(f"{where}: {first['msg']}") from exc
    return value
