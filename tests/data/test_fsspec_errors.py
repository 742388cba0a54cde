"""URLs whose protocol fsspec does not know, or whose package is not installed, are one DataError."""

from __future__ import annotations

import importlib.util

import pytest

from langadapt import textio
from langadapt.errors import DataError
from langadapt.textio import expand_files, file_size, open_binary


@pytest.mark.parametrize("call", [lambda u: textio.url_fs(u), file_size, open_binary,
                                  lambda u: expand_files([u])])
def test_unknown_url_protocol_is_one_data_error(call):
    with pytest.raises(DataError, match=r"^nosuchproto://bucket/a\.txt: unknown URL protocol 'nosuchproto://'"):
        call("nosuchproto://bucket/a.txt")


@pytest.mark.skipif(importlib.util.find_spec("s3fs") is not None, reason="s3fs is installed here")
@pytest.mark.parametrize("url", ["s3://bucket/a.txt", "simplecache::s3://bucket/a.txt"])
def test_url_whose_package_is_missing_names_the_package(url):
    with pytest.raises(DataError, match=r"reading 's3://' URLs needs the package 's3fs': pip install s3fs"):
        expand_files([url])


def test_known_protocols_still_open(tmp_path):
    import fsspec

    with fsspec.open("memory://fsspec-errors/a.txt", "w") as f:
        f.write("one\ntwo\n")
    assert expand_files(["memory://fsspec-errors/a.txt"]) == ["memory://fsspec-errors/a.txt"]
    with open_binary("memory://fsspec-errors/a.txt") as f:
        assert f.read() == b"one\ntwo\n"
