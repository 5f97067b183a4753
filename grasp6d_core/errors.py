"""The project's one exception family.

Every error grasp6d raises on purpose (bad input, a refused checkpoint, an unreachable frame, a missing
package) derives from :class:`Grasp6dError`, so a caller can catch the whole family in one clause while
anything else (a bug) still surfaces. Each class also keeps the builtin base it had (ValueError for bad
values, RuntimeError for a state that cannot be served, ...), so existing ``except ValueError`` code works.
"""
from __future__ import annotations


class Grasp6dError(Exception):
    """Base of every error grasp6d raises on purpose; the message names the field, file or limit at fault."""


class ConfigError(Grasp6dError, ValueError):
    """A settings dataclass refused a value; the message starts with the field's name."""


class UsageError(Grasp6dError, ValueError):
    """A command refused a flag's value; the message names the flag and the limit (the CLI prints it as one
    line and exits 2)."""
