import pytest

from langadapt.errors import ConfigError
from langadapt.models.families import resolve_layers


@pytest.mark.parametrize("spec,n,expected", [
    ("all", 4, [0, 1, 2, 3]),
    ("early", 6, [0, 1]),
    ("middle", 6, [2, 3]),
    ("late", 7, [5, 6]),
    ("last:2", 6, [4, 5]),
    ("first:1,late", 6, [0, 4, 5]),
    ("1-3", 6, [1, 2, 3]),
    ("-1", 6, [5]),
    (["0", "2"], 4, [0, 2]),
    ("none", 4, []),
])
def test_resolve_layers(spec, n, expected):
    assert resolve_layers(spec, n) == expected


@pytest.mark.parametrize("spec,n", [("late", 2), ("7", 4), ("bogus", 4)])
def test_resolve_layers_errors(spec, n):
    with pytest.raises(ConfigError):
        resolve_layers(spec, n)
