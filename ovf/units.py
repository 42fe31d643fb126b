"""Programmatic units (DSP0004 Annex C) as written in OVF descriptors.

One parser for ``capacityAllocationUnits`` and ``rasd:AllocationUnits``:
``byte * 2^20``, ``byte*2^30``, ``byte * 10^3``, ``byte * 1024``,
``hertz * 10^6``, and the words exporters use instead (``MegaBytes``,
``MB``, ``KiloBytes``, ``GigaBytes``). Words are taken as binary, as
COT, VMware and VirtualBox do.
"""

import re

from ovf.errors import OVFError

#: Nothing we describe is larger than this (8 EiB); bigger is a lie.
MAX_QUANTITY = 2**63 - 1

_WORDS = {
    "byte": ("byte", 1), "bytes": ("byte", 1), "b": ("byte", 1),
    "kilobytes": ("byte", 2**10), "kb": ("byte", 2**10), "kib": ("byte", 2**10),
    "megabytes": ("byte", 2**20), "mb": ("byte", 2**20), "mib": ("byte", 2**20),
    "gigabytes": ("byte", 2**30), "gb": ("byte", 2**30), "gib": ("byte", 2**30),
    "terabytes": ("byte", 2**40), "tb": ("byte", 2**40), "tib": ("byte", 2**40),
    "hertz": ("hertz", 1), "hz": ("hertz", 1),
}
_FACTOR = re.compile(r"^(\d{1,4})(?:\^(-?\d{1,3}))?$")


def parse_units(text: str | None, default: str = "byte") -> tuple[str, int]:
    """Parse a programmatic unit into (base unit, integer multiplier).

    Args:
        text: The unit string; None or empty means ``default`` with factor 1.
        default: The base unit assumed when ``text`` is absent.

    Raises:
        OVFError: on syntax we do not understand or a fractional factor.
    """
    if text is None or not text.strip():
        return default, 1
    parts = [p.strip() for p in text.split("*")]
    word = parts[0].lower()
    if word not in _WORDS:
        raise OVFError(f"unknown allocation unit {text!r}")
    base, multiplier = _WORDS[word]
    for part in parts[1:]:
        m = _FACTOR.match(part.replace(" ", ""))
        if not m:
            raise OVFError(f"unknown allocation unit {text!r}")
        number, exponent = int(m.group(1)), int(m.group(2) or 1)
        if exponent < 0 or exponent > 64:
            raise OVFError(f"unsupported allocation unit {text!r}")
        multiplier *= number ** exponent
        if multiplier > MAX_QUANTITY:
            raise OVFError(f"allocation unit {text!r} is too large")
    return base, multiplier


def parse_count(text: str | None, what: str) -> int | None:
    """Parse a non-negative decimal integer attribute, or None if absent."""
    if text is None or text.strip() == "":
        return None
    text = text.strip()
    if not text.isdigit() or len(text) > 20:
        raise OVFError(f"{what} must be a non-negative integer, got {text!r}")
    value = int(text)
    if value > MAX_QUANTITY:
        raise OVFError(f"{what} {value} is too large")
    return value


def to_bytes(quantity: str | None, units: str | None, what: str,
             default_units: str = "byte") -> int | None:
    """Apply byte units to a quantity, with an overflow check.

    Args:
        quantity: The decimal quantity text (None gives None).
        units: Programmatic unit text; absent means ``default_units``.
        what: Names the value in error messages.
        default_units: Unit assumed when ``units`` is absent; memory uses
            ``byte * 2^20`` since VMware and VirtualBox write MiB bare.

    Raises:
        OVFError: if the unit is not a byte unit or the result overflows.
    """
    count = parse_count(quantity, what)
    if count is None:
        return None
    base, multiplier = parse_units(units or default_units)
    if base != "byte":
        raise OVFError(f"{what} has non-byte unit {units!r}")
    value = count * multiplier
    if value > MAX_QUANTITY:
        raise OVFError(f"{what} of {value} bytes is too large")
    return value
