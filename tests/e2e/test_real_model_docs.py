"""The GPU command of docs/real-models.md is a valid run of the recipe (checked dry).

No GPU and no hub connection are needed: `--dry-run` validates every override of the
`gpu` preset against the stage options and resolves every input; a hub id is only named.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from langadapt.cli import main
from langadapt.recipe import load_plan

ROOT = Path(__file__).resolve().parents[2]
RECIPE = "recipes/adapt.yaml"


def gpu_command() -> list[str]:
    """The arguments after `langadapt` of the hub-model command in docs/real-models.md."""
    doc = (ROOT / "docs" / "real-models.md").read_text(encoding="utf-8")
    block = re.search(r"## On a GPU.*?```bash\n(.*?)```", doc, re.S)
    assert block, "docs/real-models.md lost its GPU command block"
    lines = block.group(1).replace("\\\n", " ").splitlines()
    cmd = next(line for line in lines if line.strip().startswith("langadapt run"))
    return shlex.split(cmd)[1:]


def test_gpu_command_validates(tmp_path, capsys):
    args = gpu_command()
    assert RECIPE in args and "preset=gpu" in args and "model=Qwen/Qwen2.5-7B" in args
    args[args.index(RECIPE)] = str(ROOT / RECIPE)
    rc = main([*args, f"output_dir={tmp_path / 'run'}", "--dry-run"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "cpt.fvt.lora-emb" in out.out and not (tmp_path / "run" / "stages").exists()
    plan = load_plan(ROOT / RECIPE, [a for a in args if "=" in a] + [f"output_dir={tmp_path / 'run'}"])
    stages = plan.by_id()
    assert stages["pretrained"].options == {"model": "Qwen/Qwen2.5-7B", "revision": None, "dtype": "bfloat16"}
    assert stages["resized.fvt"].options["tokenizer"].endswith("/stages/sweep/add16000")
    assert stages["cpt.control"].options["max_steps"] == 2000


def test_an_unknown_preset_lists_the_known_ones(tmp_path, capsys):
    rc = main(["run", str(ROOT / RECIPE), "preset=tpu", f"output_dir={tmp_path / 'run'}", "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "unknown preset 'tpu' (known: cpu, cpu-smoke, study, gpu" in err


def test_a_missing_checkpoint_names_the_fetch_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("LANGADAPT_MODELS", str(tmp_path / "empty-cache"))
    rc = main(["run", str(ROOT / RECIPE), f"output_dir={tmp_path / 'run'}", "--dry-run"])
    err = capsys.readouterr().err
    assert rc == 2
    assert "gemma-3-270m-q4_k_m.gguf" in err and "run 'langadapt model fetch gemma3-270m'" in err
    assert str(tmp_path / "empty-cache") in err
