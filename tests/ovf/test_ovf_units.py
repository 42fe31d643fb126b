"""Programmatic units (DSP0004 Annex C) as exporters write them."""

import pytest

from ovf.errors import OVFError
from ovf.units import parse_units, to_bytes


@pytest.mark.parametrize("text,expected", [
    ("byte * 2^20", ("byte", 2**20)), ("byte*2^30", ("byte", 2**30)),
    ("MegaBytes", ("byte", 2**20)), ("MB", ("byte", 2**20)),
    ("byte * 10^3", ("byte", 1000)), ("byte * 1024", ("byte", 1024)),
    ("hertz * 10^6", ("hertz", 10**6)), ("Hertz*10^9", ("hertz", 10**9)),
    (None, ("byte", 1)), ("GigaBytes", ("byte", 2**30)),
])
def test_units(text, expected):
    assert parse_units(text) == expected


@pytest.mark.parametrize("text", ["furlong", "byte * 2^x", "byte * 2^-3", "byte * 2^99"])
def test_bad_units_refused(text):
    with pytest.raises(OVFError):
        parse_units(text)


def test_to_bytes_defaults_and_overflow():
    assert to_bytes("512", None, "memory", default_units="byte * 2^20") == 512 * 2**20
    assert to_bytes("1", "byte * 2^30", "capacity") == 2**30
    with pytest.raises(OVFError, match="non-byte unit"):
        to_bytes("1", "hertz * 10^6", "capacity")
    with pytest.raises(OVFError, match="too large"):
        to_bytes("99999999999", "byte * 2^40", "capacity")
    with pytest.raises(OVFError, match="non-negative integer"):
        to_bytes("${disk.size}", None, "capacity")
