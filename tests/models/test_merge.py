import json
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from langadapt.cli import main
from langadapt.errors import DataError
from langadapt.models.merge import merge_adapter


@pytest.fixture(scope="module")
def adapter(tiny_model, tmp_path_factory):
    """A LoRA adapter with non-zero B (init_lora_weights=False), so merging changes the weights."""
    base = tiny_model("llama", full_vocab=False)  # merging is not about the vocabulary
    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                      init_lora_weights=False))
    out = tmp_path_factory.mktemp("adapter") / "lora"
    model.save_pretrained(out)
    return base, out, model.eval()


def test_cli_merge_writes_a_plain_model_equal_to_the_adapter(adapter, tmp_path, capsys):
    base, path, peft_model = adapter
    out = tmp_path / "merged"
    assert main(["model", "merge", str(path), "--out", str(out), "--json"]) == 0
    row = json.loads(capsys.readouterr().out.splitlines()[0])
    assert row["metric"] == "merge.max_abs_logit_diff" and row["extra"]["passed"]
    assert not (out / "adapter_config.json").exists() and (out / "merge.json").is_file()
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    plain = AutoModelForCausalLM.from_pretrained(base).eval()
    ids = torch.tensor([AutoTokenizer.from_pretrained(out)("Сайн байна уу, найзаа?")["input_ids"]])
    with torch.no_grad():
        want, got, before = peft_model(input_ids=ids).logits, merged(input_ids=ids).logits, \
            plain(input_ids=ids).logits
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(got, before, atol=1e-3)   # the adapter really was merged


def test_merge_refuses_a_folder_without_adapter(tiny_model, tmp_path):
    with pytest.raises(DataError, match="adapter_config.json"):
        merge_adapter(tiny_model("llama", full_vocab=False), tmp_path / "out")


def test_merge_cache_sees_the_base_contents_and_the_version(adapter, tmp_path, monkeypatch):
    import shutil

    import langadapt
    from langadapt.models import loading

    base, path, _ = adapter
    mine = Path(shutil.copytree(base, tmp_path / "base"))
    loads = []
    real = loading.load_model
    monkeypatch.setattr(loading, "load_model", lambda *a, **k: loads.append(a) or real(*a, **k))
    out = tmp_path / "merged"
    merge_adapter(path, out, base=mine)
    merge_adapter(path, out, base=mine)
    assert len(loads) == 1  # unchanged: reused
    assert json.loads((out / "merge.json").read_text())["langadapt"] == langadapt.__version__
    model = AutoModelForCausalLM.from_pretrained(mine)
    with torch.no_grad():
        model.model.norm.weight.mul_(1.5)
    model.save_pretrained(mine)  # the base retrained in place: same path, new weights
    merge_adapter(path, out, base=mine)
    assert len(loads) == 2
    monkeypatch.setattr(langadapt, "__version__", "99.0.0")
    merge_adapter(path, out, base=mine)
    assert len(loads) == 3
