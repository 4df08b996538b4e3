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


@pytest.mark.parametrize("bad", ["0 GHz", "0 MHz", "-1 GHz", "1e400 GHz", ".inf GHz", 0, float("inf")])
def test_a_clock_is_larger_than_0_and_finite(bad):
    """Rates in GB/s and times in ns divide by the clock: 0 was a ZeroDivisionError."""
    with pytest.raises(ValueError, match="is not a frequency larger than 0"):
        units.parse_frequency_mhz(bad)


@pytest.mark.parametrize("bad", ["0 B/cycle", "0 GB/s", "1e400 B/cycle", "-2 GB/s"])
def test_a_bandwidth_is_larger_than_0_and_finite(bad):
    with pytest.raises(ValueError, match="is not a bandwidth larger than 0"):
        units.parse_bandwidth_bytes_per_cycle(bad, 1000)


def test_an_infinite_latency_or_size_is_refused():
    with pytest.raises(ValueError, match="is not a latency"):
        units.parse_latency_cycles("1e400 ns", 1000)
    with pytest.raises(ValueError, match="is not a size"):
        units.parse_size_bytes("1e400 B")
