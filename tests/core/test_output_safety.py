"""No command may destroy a user's files: every command that writes an output folder or file.

Each command gets its output as the current folder, a folder of user files, the folder holding
its inputs, one of its inputs, a file and a link to nothing: each is refused in one line (exit 2)
before any heavy work, and every file stays as it was. An earlier output of the same command is
replaced whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from langadapt.cli import main

MARKER = ".langadapt-output.json"  # what every output folder carries (langadapt.output_guard.MARKER)

MODEL_OUT = "inputs/model"

# command -> (argv with {out}, the input the output may not be, what it writes: dir | file)
COMMANDS = {
    "model tiny": ("model tiny --arch qwen3 --tokenizer inputs/tok --out {out}", "inputs/tok", "dir"),
    "model import": ("model import inputs/x.gguf --out {out}", "inputs/x.gguf", "dir"),
    "model resize": ("model resize inputs/model --tokenizer inputs/ext --init mean --out {out}",
                     "inputs/model", "dir"),
    "model merge": ("model merge inputs/adapter --out {out}", "inputs/adapter", "dir"),
    "tokenizer extend": ("tokenizer extend inputs/tok --corpus inputs/corpus.txt --add 20 --out {out}",
                         "inputs/corpus.txt", "dir"),
    "tokenizer extend sweep": ("tokenizer extend inputs/tok --corpus inputs/corpus.txt --add 10,20 "
                               "--out {out}", "inputs/tok", "dir"),
    "tokenizer extend --plot": ("tokenizer extend inputs/tok --corpus inputs/corpus.txt --add 10,20 "
                                "--out new --plot {out}", "inputs/corpus.txt", "file"),
    "tokenizer trim": ("tokenizer trim inputs/tok --corpus inputs/corpus.txt --out {out}",
                       "inputs/corpus.txt", "dir"),
    "tokenizer train": ("tokenizer train inputs/corpus.txt --vocab-size 300 --out {out}",
                        "inputs/corpus.txt", "dir"),
    "tokenizer stats --plot": ("tokenizer stats inputs/tok --text inputs/corpus.txt --plot {out}",
                               "inputs/corpus.txt", "file"),
    "data tokenize": ("data tokenize inputs/corpus.txt --tokenizer inputs/tok --out {out}",
                      "inputs/corpus.txt", "dir"),
    "data clean": ("data clean inputs/corpus.txt --langid none --no-dedup-near --out {out}",
                   "inputs/corpus.txt", "dir"),
    "data bitext": ("data bitext inputs/pairs.tsv --langid none --out {out}", "inputs/pairs.tsv", "dir"),
    "translate": ("translate --model inputs/model --src khk_Cyrl --tgt eng_Latn --max-new-tokens 2 "
                  "inputs/corpus.txt {out}", "inputs/corpus.txt", "file"),
    "translate --rejected": ("translate --backend openai --base-url http://127.0.0.1:9/v1 --model m "
                             "--max-retries 0 --timeout 1 "
                             "--src eng_Latn --tgt khk_Cyrl inputs/corpus.txt new.txt --rejected {out}",
                             "inputs/corpus.txt", "into"),
    "report": ("report inputs/run --out {out}", "inputs/run/results.jsonl", "dir"),
    "eval flores": ("eval flores --hyp inputs/hyp.txt --src khk_Cyrl --tgt eng_Latn --limit 20 "
                    "--resamples 20 --out {out}", "inputs/hyp.txt", "dir"),
    "eval layers": ("eval layers --model inputs/model --text inputs/corpus.txt --limit 4 --out {out}",
                    "inputs/corpus.txt", "dir"),
}

# case -> the output given (None: the command's input)
CASES = {"current folder": ".", "folder of user files": "user", "folder holding the inputs": "inputs",
         "an input": None, "a file": "user/notes.txt", "a link to nothing": "dangling"}


@pytest.fixture(scope="session")
def small_inputs(tmp_path_factory, data_dir) -> Path:
    """A folder of cheap inputs: 200 news lines, pairs, a 300-id tokenizer, an extension of it, a
    tiny model, a LoRA adapter of it, a run. Real inputs: without the refusal a command would
    get as far as writing its output."""
    root = tmp_path_factory.mktemp("safety") / "inputs"
    root.mkdir()
    news = (data_dir / "mono" / "news_ner_v1.txt").read_text(encoding="utf-8").splitlines()[:200]
    (root / "corpus.txt").write_text("\n".join(news) + "\n", encoding="utf-8")
    pairs = (data_dir / "parallel" / "mn_en.tsv").read_text(encoding="utf-8").splitlines()[:50]
    (root / "pairs.tsv").write_text("\n".join(pairs) + "\n", encoding="utf-8")
    hyp = (data_dir / "flores" / "google_mt.eng_Latn.dev.txt").read_text(encoding="utf-8").splitlines()
    (root / "hyp.txt").write_text("\n".join(hyp[:20]) + "\n", encoding="utf-8")
    cwd = Path.cwd()
    os.chdir(root.parent)
    try:
        assert main("tokenizer train inputs/corpus.txt --vocab-size 300 --out inputs/tok".split()) == 0
        assert main(f"model tiny --arch qwen3 --tokenizer inputs/tok --out {MODEL_OUT}".split()) == 0
        assert main("tokenizer extend inputs/tok --corpus inputs/corpus.txt --add 20 --out inputs/ext"
                    .split()) == 0
        _lora_adapter(MODEL_OUT, "inputs/adapter")
    finally:
        os.chdir(cwd)
    _tiny_gguf(root / "x.gguf")
    (root / "run").mkdir()
    (root / "run" / "results.jsonl").write_text(json.dumps({"metric": "bpb", "value": 1.5}) + "\n")
    return root


def _tiny_gguf(path: Path) -> None:
    """The 2-layer GGUF file the GGUF tests write (one writer of test GGUFs, not two)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "gguf_tests", Path(__file__).parents[1] / "models" / "test_gguf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_tiny_gguf(path)


def _lora_adapter(base: str, out: str) -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base)
    get_peft_model(model, LoraConfig(r=2, target_modules=["q_proj", "v_proj"])).save_pretrained(out)


@pytest.fixture
def sandbox(small_inputs, tmp_path, monkeypatch) -> Path:
    """The inputs, a folder of user files and a dangling link, in a fresh current folder."""
    shutil.copytree(small_inputs, tmp_path / "inputs", symlinks=True)
    (tmp_path / "user").mkdir()
    (tmp_path / "user" / "notes.txt").write_text("mine\n")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _state(root: Path) -> dict[str, str]:
    """Every file (by content hash), folder and link under `root`."""
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            if p.is_symlink():
                out[rel] = "-> " + os.readlink(p)
            elif p.is_dir():
                out[rel] = "dir"
            else:
                out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def _argv(command: str, out: str) -> list[str]:
    return COMMANDS[command][0].format(out=out).split()


def _rows():
    for command, (_, _, kind) in COMMANDS.items():
        for case in CASES:
            if kind != "dir" and case == "a file":
                continue  # writing a file over a file that is no input is what a file output does
            if kind == "into" and case in ("current folder", "folder of user files"):
                continue  # only adds files of its own names there
            yield command, case


@pytest.mark.parametrize("command, case", list(_rows()))
def test_an_output_never_overwrites_a_users_files(sandbox, command, case, capsys):
    out = CASES[case] or COMMANDS[command][1]
    before = _state(sandbox)
    assert main(_argv(command, out)) == 2
    err = capsys.readouterr().err
    lines = [x for x in err.splitlines() if x.strip()]
    assert lines and lines[-1].startswith("langadapt: error: ") and "Traceback" not in err, err
    assert len([x for x in lines if x.startswith("langadapt: error")]) == 1
    assert _state(sandbox) == before


# command -> (change an input so the second run really writes, replaces the folder whole)
REPLACED = {
    "tokenizer train": True,
    "tokenizer trim": True,
    "tokenizer extend": True,
    "model tiny": True,
    "model import": True,
    "data tokenize": True,
    "data clean": False,   # writes its own files into the folder (data/, rejected/, stats.json)
    "data bitext": False,
    "report": False,
    "eval flores": False,
}


@pytest.mark.parametrize("command", list(REPLACED))
def test_an_earlier_output_of_the_same_command_is_replaced(sandbox, command, capsys):
    argv = _argv(command, "out")
    assert main(argv) == 0
    assert (sandbox / "out" / MARKER).is_file()
    (sandbox / "out" / "earlier.txt").write_text("from the first run\n")
    with open(sandbox / "inputs" / "corpus.txt", "a", encoding="utf-8") as f:
        f.write("Шинэ мөр нэмэгдлээ.\n")  # a changed input: nothing is answered from a cache
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    assert (sandbox / "out" / MARKER).is_file()
    assert (sandbox / "out" / "earlier.txt").exists() != REPLACED[command]
    assert not [p.name for p in sandbox.iterdir() if p.name.startswith(".out.")]  # nothing left beside


@pytest.mark.parametrize("command", ["model resize", "model merge"])
def test_a_model_surgery_replaces_its_earlier_output(sandbox, command, capsys):
    argv = _argv(command, "out")
    assert main(argv) == 0
    (sandbox / "out" / "earlier.txt").write_text("from the first run\n")
    assert main([*argv, "--force"]) == 0, capsys.readouterr().err  # not the cached answer
    assert not (sandbox / "out" / "earlier.txt").exists() and (sandbox / "out" / MARKER).is_file()
    assert not [p.name for p in sandbox.iterdir() if p.name.startswith(".out.")]


def test_data_tokenize_leaves_nothing_beside_its_output(sandbox, capsys):
    (sandbox / "inputs" / "bad.jsonl").write_text('{"title": "no text field"}\n')
    assert main("data tokenize inputs/corpus.txt --tokenizer inputs/tok --out out".split()) == 0
    assert main("data tokenize inputs/bad.jsonl --tokenizer inputs/tok --out failed".split()) == 2
    assert "no field 'text'" in capsys.readouterr().err
    assert sorted(p.name for p in sandbox.iterdir()) == ["dangling", "inputs", "out", "user"]
