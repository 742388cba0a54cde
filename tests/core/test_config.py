import pytest

from langadapt.config import StrictModel, apply_overrides, load_config
from langadapt.errors import ConfigError


class Inner(StrictModel):
    lr: float = 1e-3
    steps: int = 10


class Conf(StrictModel):
    name: str
    train: Inner = Inner()


def write(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    return p


def test_loads_and_overrides(tmp_path):
    p = write(tmp_path, "name: a\ntrain:\n  lr: 0.1\n")
    c = load_config(Conf, p, ["train.steps=5", "name=b"])
    assert (c.name, c.train.lr, c.train.steps) == ("b", 0.1, 5)


@pytest.mark.parametrize("text,line,key", [
    ("name: a\ntrain:\n  lr: 0.1\n  stpes: 3\n", 4, "train.stpes"),
    ("name: a\nname: b\n", 2, "name"),
    ("name: a\ntrain:\n  lr: fast\n", 3, "train.lr"),
])
def test_errors_name_file_line_key(tmp_path, text, line, key):
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        load_config(Conf, p)
    assert (e.value.file, e.value.line, e.value.key) == (str(p), line, key)
    assert f"{p}:{line}" in str(e.value) and key in str(e.value)


def test_override_must_be_key_value():
    with pytest.raises(ConfigError):
        apply_overrides({}, ["novalue"])


@pytest.mark.parametrize("override, key, why", [
    ("stages.9.with.heldout=1", "stages.9.with.heldout", "'stages' has 2 entries, so there is no index 9"),
    ("stages.-1.with.heldout=1", "stages.-1.with.heldout", "there is no index -1"),
    ("stages.cpt.with.lr=1", "stages.cpt.with.lr",
     "'stages' is a list of 2 entries: use an index, not 'cpt'"),
    ("seed.x=1", "seed.x", "'seed' is a value (3), not a mapping or list, so it has no 'x'"),
    ("stages.0.with..lr=1", "stages.0.with..lr", "empty part"),
    ("seed=[1", "seed", "not valid YAML"),
])
def test_override_errors_name_the_key_and_why(override, key, why):
    data = {"seed": 3, "stages": [{"with": {}}, {"with": {}}]}
    with pytest.raises(ConfigError) as e:
        apply_overrides(data, [override])
    assert e.value.key == key and e.value.file == "command line"
    assert f"key '{key}'" in str(e.value) and why in str(e.value)
    assert data == {"seed": 3, "stages": [{"with": {}}, {"with": {}}]}
