"""The one padding helper."""

from __future__ import annotations

import torch

from langadapt.padding import pad


def test_right_padding_is_the_default():
    ids, mask = pad([[5, 6, 7], [8]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [8, 0, 0]]
    assert mask.tolist() == [[1, 1, 1], [1, 0, 0]]
    assert ids.dtype == mask.dtype == torch.long


def test_left_padding_keeps_the_right_edge_real():
    ids, mask = pad([[5, 6, 7], [8]], pad_id=-100, left=True)
    assert ids.tolist() == [[5, 6, 7], [-100, -100, 8]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


def test_empty_rows_and_device():
    ids, mask = pad([[], (3, 4)], pad_id=9, device="cpu")
    assert ids.tolist() == [[9, 9], [3, 4]] and mask.tolist() == [[0, 0], [1, 1]]
    assert ids.device.type == "cpu"


def test_no_module_pads_by_hand():
    """Batches are padded by `pad` only (a hand-made copy once sat in eval/speed and init/calibrated)."""
    import re
    from pathlib import Path

    import langadapt

    src = Path(langadapt.__file__).parent
    hand_made = re.compile(r"torch\.full\(\(len\(")  # an [rows, width] tensor filled with the pad id
    found = [str(p.relative_to(src)) for p in src.rglob("*.py")
             if p.name != "padding.py" and hand_made.search(p.read_text(encoding="utf-8"))]
    assert not found, f"pad with langadapt.padding.pad instead: {found}"
