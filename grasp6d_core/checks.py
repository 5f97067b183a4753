"""Value checks shared by the settings dataclasses (TrainConfig, the benchmarks' settings): each raises a
ConfigError whose message starts with the field's name, so a library caller and a command-line user (whose flag
is the field's name with '-' for '_') both see which value is wrong."""
from __future__ import annotations

from typing import Any, Iterable

from grasp6d_core.errors import ConfigError


def require_at_least(settings: Any, minimums: dict[str, int]) -> None:
    """Every named field is an integer >= its minimum (None passes: it means 'the default')."""
    for name, low in minimums.items():
        value = getattr(settings, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
            raise ConfigError(f"{name} must be an integer >= {low}, got {value!r}")


def require_one_of(settings: Any, name: str, choices: Iterable[str]) -> None:
    choices = tuple(choices)
    if getattr(settings, name) not in choices:
        raise ConfigError(f"{name} {getattr(settings, name)!r} is not one of {' | '.join(choices)}")
