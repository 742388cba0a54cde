import copy
import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from langadapt.cli import main
from langadapt.errors import DataError, LangadaptError
from langadapt.models import embeddings
from langadapt.models.embeddings import read_id_map, read_new_tokens, resize_model, tokenizer_kind

TEXT = "Монгол улсын засгийн газар өнөөдөр хуралдлаа. Улаанбаатар хотод хүмүүс ажил хийж байна."
TOKENIZER = {"qwen3": "qwen3", "llama": "llama3"}


def _logits(path, ids):
    model = AutoModelForCausalLM.from_pretrained(path).eval()
    with torch.no_grad():
        return model(input_ids=ids).logits, model


@pytest.mark.parametrize("arch,init,tied", [("qwen3", "fvt", True), ("llama", "fvt", False)])
def test_extend_keeps_old_logits_and_fills_new_rows(arch, init, tied, tiny_model, surgery_toks, tmp_path):
    base, tok_dir, out = tiny_model(arch), surgery_toks("extended", TOKENIZER[arch]), tmp_path / "out"
    rows = resize_model(base, tok_dir, out, init=init, seed=0)
    by = {r.metric: r for r in rows}
    assert by["resize.old_logits_max_abs_diff"].value <= 1e-5
    assert by["resize.old_logits_max_abs_diff"].extra["passed"]
    assert 0 < by["resize.new_token_mass"].value < 1
    assert all(r.signature["tools"]["torch"] for r in rows)
    report = json.loads((out / "resize.json").read_text())
    assert report["tied"] is tied and report["check"]["passed"] and (out / "new_tokens.jsonl").is_file()

    # Independently of the module's own check: reload both folders and compare.
    base_tok = AutoTokenizer.from_pretrained(base)
    ids = torch.tensor([base_tok(TEXT)["input_ids"]])
    before, _ = _logits(base, ids)
    after, model = _logits(out, ids)
    new_tokens = read_new_tokens(tok_dir / "new_tokens.jsonl")
    assert model.config.vocab_size == len(AutoTokenizer.from_pretrained(out)) == new_tokens[-1].id + 1
    assert torch.allclose(after[..., : before.shape[-1]], before, atol=1e-5)
    emb = model.get_input_embeddings().weight
    head = model.get_output_embeddings().weight
    assert (head.data_ptr() == emb.data_ptr()) is tied
    for t in new_tokens[:5]:
        assert torch.allclose(emb[t.id], emb[list(t.base_ids)].mean(0), atol=1e-6)
        assert torch.allclose(head[t.id], head[list(t.base_ids)].mean(0), atol=1e-6)


@pytest.mark.parametrize("arch", ["qwen3", "llama"])
def test_trimmed_model_logits_equal_full_model_at_kept_ids(arch, tiny_model, surgery_toks, tmp_path):
    base, tok_dir, out = tiny_model(arch), surgery_toks("trimmed", TOKENIZER[arch]), tmp_path / "out"
    rows = resize_model(base, tok_dir, out, check_text=None)
    assert {r.metric for r in rows} >= {"resize.old_logits_max_abs_diff", "resize.dropped_mass"}
    _, kept = read_id_map(tok_dir / "id_map.json")
    trim_tok = AutoTokenizer.from_pretrained(out)
    new_ids = torch.tensor([trim_tok(TEXT, add_special_tokens=False)["input_ids"]])
    trimmed, model = _logits(out, new_ids)
    full, _ = _logits(base, torch.tensor(kept)[new_ids])
    assert model.config.vocab_size == len(kept) == trimmed.shape[-1]
    assert torch.allclose(trimmed, full[..., kept], atol=1e-5)
    # special ids in the config point at the same tokens as before
    full_tok = AutoTokenizer.from_pretrained(base)
    assert kept[model.config.eos_token_id] == AutoModelForCausalLM.from_pretrained(base).config.eos_token_id
    assert trim_tok.convert_ids_to_tokens(model.config.pad_token_id) == full_tok.pad_token


def test_extension_is_seeded(tiny_model, surgery_toks):
    from langadapt.models.init import InitContext, make_init

    new_tokens = read_new_tokens(surgery_toks("extended") / "new_tokens.jsonl")
    base = AutoModelForCausalLM.from_pretrained(tiny_model("qwen3"))
    weights = []
    for seed in (5, 5, 6):
        model = copy.deepcopy(base)
        method = make_init("mean", InitContext(new_tokens=new_tokens, n_base=151669, seed=seed))
        embeddings.extend_rows(model, new_tokens, method, seed)
        weights.append(model.get_input_embeddings().weight[151669:].clone())
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_broken_resize_is_refused_and_nothing_written(tiny_model, surgery_toks, tmp_path, monkeypatch):
    real = embeddings.extend_rows

    def corrupting(model, *a, **k):   # a bug that touches an old row must be caught
        facts = real(model, *a, **k)
        with torch.no_grad():
            model.get_input_embeddings().weight[100] += 1.0
        return facts

    monkeypatch.setattr(embeddings, "extend_rows", corrupting)
    with pytest.raises(LangadaptError, match="function preservation failed"):
        resize_model(tiny_model("qwen3"), surgery_toks("extended"), tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_finished_output_is_reused_by_the_cli(tiny_model, surgery_toks, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    first = resize_model(tiny_model("qwen3"), surgery_toks("extended"), out, init="mean",
                         init_options={"noise": 0.1})

    def no_load(*a, **k):
        raise AssertionError("reloaded the model although the output was finished")

    monkeypatch.setattr("langadapt.models.loading.load_model", no_load)
    capsys.readouterr()
    assert main(["model", "resize", str(tiny_model("qwen3")), "--tokenizer", str(surgery_toks("extended")),
                 "--init", "mean", "--init-opt", "noise=0.1", "--out", str(out), "--json"]) == 0
    printed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["value"] for r in printed] == [r.value for r in first]
    assert printed[0]["signature"]["options"]["init_options"] == {"noise": 0.1}


@pytest.mark.parametrize("line,error", [
    ('{"id": 5, "token": "x"}', "line 1|:1:"),
    ("not json", ":1:"),
])
def test_bad_new_tokens_file_names_file_and_line(tmp_path, line, error):
    p = tmp_path / "new_tokens.jsonl"
    p.write_text(line + "\n")
    with pytest.raises(DataError, match=error):
        read_new_tokens(p)


def test_plain_tokenizer_folder_is_a_clear_error(tiny_model, tokenizers_dir, tmp_path):
    assert tokenizer_kind(tokenizers_dir / "qwen3") == "plain"
    with pytest.raises(DataError, match="new_tokens.jsonl"):
        resize_model(tiny_model("qwen3"), tokenizers_dir / "qwen3", tmp_path / "out")


@pytest.mark.parametrize("index,new_id,error", [
    (0, 10, "new ids start at 10"),                        # not made from this model's tokenizer
    (-1, 10**6, "after the base vocabulary"),             # past the extended tokenizer
])
def test_misnumbered_new_ids_are_rejected(tiny_model, surgery_toks, copy_dir, index, new_id, error):
    tok = copy_dir(surgery_toks("extended"), "tok")
    recs = [json.loads(x) for x in (tok / "new_tokens.jsonl").read_text().splitlines()]
    recs[index]["id"] = new_id
    (tok / "new_tokens.jsonl").write_text("".join(json.dumps(r) + "\n" for r in recs))
    with pytest.raises(DataError, match=error):
        resize_model(tiny_model("qwen3"), tok, tok.parent / "out")
