import pytest
from hypothesis import given
from hypothesis import strategies as st

from accelsim import units


@pytest.mark.parametrize("text,expected", [
    ("256 KiB", 262144), ("64 kB", 64000), ("1 MiB", 1048576), ("512 B", 512), ("2 GiB", 2 * 1024**3),
    ("0.5 KiB", 512),
])
def test_sizes(text, expected):
    assert units.parse_size_bytes(text) == expected


@pytest.mark.parametrize("bad", ["64KB", "64 kb", "x", -1, 5, "1.5 B", True, "-2 KiB"])
def test_bad_sizes_say_how_to_write_them(bad):
    with pytest.raises(ValueError, match="write e.g. '64 KiB'"):
        units.parse_size_bytes(bad)


def test_frequency_bandwidth_latency():
    assert units.parse_frequency_mhz("1 GHz") == 1000
    assert units.parse_frequency_mhz("800 MHz") == 800
    assert units.parse_bandwidth_bytes_per_cycle("16 GB/s", 1000) == 16
    assert units.parse_bandwidth_bytes_per_cycle("32 B/cycle", 500) == 32
    assert units.parse_latency_cycles("50 ns", 800) == 40
    assert units.parse_latency_cycles("51 ns", 1000) == 51
    assert units.parse_latency_cycles("100 cycles", 1) == 100
    with pytest.raises(ValueError, match="frequency"):
        units.parse_frequency_mhz("1000")


@given(st.integers(min_value=1, max_value=2**40))
def test_format_size_round_trips(n):
    assert units.parse_size_bytes(units.format_size(n)) == n
