import pytest
import torch
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM, AutoTokenizer


@pytest.mark.parametrize("arch", ["qwen3", "llama", "gemma3", "m2m100"])
def test_tiny_loads_with_auto_and_generates(arch, tiny_model):
    path = tiny_model(arch)
    tok = AutoTokenizer.from_pretrained(path)
    auto = AutoModelForSeq2SeqLM if arch == "m2m100" else AutoModelForCausalLM
    model = auto.from_pretrained(path)
    assert model.config.vocab_size == len(tok)
    kwargs = {}
    if arch == "m2m100":
        assert tok.convert_tokens_to_ids("khk_Cyrl") != tok.unk_token_id
        kwargs["forced_bos_token_id"] = tok.convert_tokens_to_ids("eng_Latn")
    batch = tok(["Сайн байна уу"], return_tensors="pt")
    out = model.generate(**batch, max_new_tokens=4, do_sample=False, **kwargs)
    assert out.shape[1] > (0 if arch == "m2m100" else batch["input_ids"].shape[1])
    assert torch.isfinite(model(**batch, labels=batch["input_ids"]).loss)
