"""Number settings read from the environment (MEDTAP_*): one parser, one kind of error for all of them.

A setting that is not a number, or below its minimum, is refused with its name, the value given and the
unit expected (store.errors.SettingError: the CLI prints it, the API answers it), never silently replaced
by the default.
"""

from __future__ import annotations

import os

from store.errors import SettingError


def number_setting(name: str, default: float, *, unit: str, minimum: float = 0.0,
                   exclusive: bool = False) -> float:
    """The value of environment variable `name` (default when unset or blank).

    `minimum`: the smallest value allowed (`exclusive`: it must be more than that).
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingError(f"{name}={text!r}: not a number of {unit}") from None
    if value < minimum or (exclusive and value == minimum):
        bound = f"more than {minimum:g}" if exclusive else f"{minimum:g} or more"
        raise SettingError(f"{name}={text!r}: must be {bound}")
    return value
