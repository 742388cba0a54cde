"""The one figure saver: a whole PNG or nothing."""

from __future__ import annotations

import pytest

from langadapt.figures import pyplot, save_figure


def test_saves_a_png_and_closes_the_figure(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    out = save_figure(fig, tmp_path / "sub" / "f.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert fig.number not in plt.get_fignums()
    assert [p.name for p in out.parent.iterdir()] == ["f.png"]


def test_a_failing_draw_leaves_neither_file_nor_temp(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    (tmp_path / "f.png").write_bytes(b"old")

    def broken(*a, **k):
        raise RuntimeError("draw failed")

    fig.savefig = broken
    with pytest.raises(RuntimeError):
        save_figure(fig, tmp_path / "f.png")
    plt.close(fig)
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]
    assert (tmp_path / "f.png").read_bytes() == b"old"  # the old figure is intact
