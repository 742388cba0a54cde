"""Damaged GGUF files (cut short, tensors contradicting the metadata, hostile metadata) give one
DataError line and exit 2, never a traceback."""

from __future__ import annotations

import struct

import pytest
from test_gguf import cached_gguf, write_tiny_gguf

from langadapt.cli import main
from langadapt.errors import DataError
from langadapt.models.gguf import import_gguf, read_metadata

CUTS = (4, 24, 40, 500, 1_000_000)


def _set_uint32(path, key: str, value: int) -> None:
    """Rewrite the uint32 metadata value of `key` in place (key string, type id, value)."""
    data = bytearray(path.read_bytes())
    at = data.index(key.encode()) + len(key)
    assert struct.unpack("<I", data[at: at + 4])[0] == 4   # GGUF type id of uint32
    data[at + 4: at + 8] = struct.pack("<I", value)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("cut", CUTS)
def test_truncated_real_gguf_is_one_data_error(tmp_path, cut):
    src = cached_gguf("smollm2-135m-instruct")
    cut_file = tmp_path / "cut.gguf"
    with open(src, "rb") as f:
        cut_file.write_bytes(f.read(cut))
    with pytest.raises(DataError, match=r"cut\.gguf: GGUF file cut short") as e:
        read_metadata(cut_file)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("cut", [4, 40, 5000, -100])
def test_truncated_gguf_import_is_one_line_exit_2(tmp_path, capsys, cut):
    whole = write_tiny_gguf(tmp_path / "whole.gguf").read_bytes()
    cut_file = tmp_path / "cut.gguf"
    cut_file.write_bytes(whole[:cut])
    assert main(["model", "import", str(cut_file), "--out", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cut.gguf: GGUF file cut short" in err[0]
    assert not (tmp_path / "hf").exists()


def test_not_a_gguf_file_says_so(tmp_path):
    path = tmp_path / "x.gguf"
    path.write_bytes(b"PK\x03\x04" + bytes(40))
    with pytest.raises(DataError, match=r"not a GGUF file \(it starts with b'PK\\x03\\x04', not b'GGUF'\)"):
        read_metadata(path)


@pytest.mark.parametrize("key, value, match", [
    ("llama.embedding_length", 24, r"tensor token_embd\.weight has shape \[16, 262\] but the metadata "
                                   r"says llama\.embedding_length = 24"),
    ("llama.block_count", 3, r"tensors of 2 layers \(blk\.0\.\.blk\.1\) but the metadata says "
                             r"llama\.block_count = 3"),
])
def test_gguf_whose_tensor_shapes_contradict_its_metadata_is_refused(tmp_path, key, value, match):
    path = write_tiny_gguf(tmp_path / "tiny.gguf")
    _set_uint32(path, key, value)
    with pytest.raises(DataError, match=match):
        import_gguf(path, tmp_path / "hf")
    assert not (tmp_path / "hf").exists()


def test_control_characters_in_gguf_metadata_are_escaped(tmp_path, capsys):
    path = write_tiny_gguf(tmp_path / "tiny.gguf", arch="ll\x1b[2Jm")
    assert main(["model", "import", str(path), "--out", str(tmp_path / "hf")]) == 2
    err = capsys.readouterr().err
    assert "\x1b" not in err and "general.architecture 'll\\x1b[2Jm' cannot be imported" in err
