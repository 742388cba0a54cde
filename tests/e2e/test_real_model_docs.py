"""The GPU command of docs/real-models.md is a valid run of the recipe (checked dry).

No GPU is needed: `--dry-run` validates every override against the stage options and
resolves every input, with a tiny local Qwen3 model standing in for the hub id.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from langadapt.cli import main

ROOT = Path(__file__).resolve().parents[2]


def gpu_command() -> list[str]:
    """The arguments after `langadapt` of the hub-model command in docs/real-models.md."""
    doc = (ROOT / "docs" / "real-models.md").read_text(encoding="utf-8")
    block = re.search(r"```bash\n(M=.*?)```", doc, re.S)
    assert block, "docs/real-models.md lost its GPU command block"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    cmd = next(line for line in lines if line.strip().startswith("langadapt run"))
    return shlex.split(cmd)[1:]


def test_gpu_overrides_validate(tiny_model, tmp_path, capsys):
    model = tiny_model("qwen3")
    args = [a.replace("$M", str(model)) for a in gpu_command()]
    assert "recipes/gemma3-270m-mongolian.yaml" in args
    args[args.index("recipes/gemma3-270m-mongolian.yaml")] = str(ROOT / "recipes" /
                                                                  "gemma3-270m-mongolian.yaml")
    rc = main([*args, f"output_dir={tmp_path / 'run'}", "--dry-run"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "cpt.fvt.lora-emb" in out.out and not (tmp_path / "run" / "stages").exists()


def test_a_missing_checkpoint_names_the_fetch_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANGADAPT_MODELS", str(tmp_path / "empty-cache"))
    rc = main(["run", str(ROOT / "recipes" / "gemma3-270m-mongolian.yaml"),
               f"output_dir={tmp_path / 'run'}", "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "gemma-3-270m-q4_k_m.gguf" in err and "run 'langadapt model fetch gemma3-270m'" in err
    assert str(tmp_path / "empty-cache") in err
