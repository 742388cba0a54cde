import re

import pytest
from peft import get_peft_model
from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

from langadapt.errors import ConfigError
from langadapt.models.adapters import embedding_module_names, lora_config


def _lora_layers(model, stack_re):
    hit = set()
    for name, _ in model.named_parameters():
        if "lora_A" in name and (m := re.search(stack_re, name)):
            hit.add(int(m.group(1)))
    return sorted(hit)


@pytest.mark.parametrize("layers, expected", [("all", [0, 1]), ("last:1", [1]), ("0", [0]),
                                              ("first:1", [0])])
def test_layer_selection_places_lora(small_model, layers, expected):
    model = AutoModelForCausalLM.from_pretrained(small_model("qwen3"))
    peft_model = get_peft_model(model, lora_config(model, r=2, layers=layers))
    assert _lora_layers(peft_model, r"model\.layers\.(\d+)\.") == expected


def test_target_modules_and_rslora(small_model):
    model = AutoModelForCausalLM.from_pretrained(small_model("qwen3"))
    cfg = lora_config(model, r=4, alpha=8, target_modules=["q_proj"], rslora=True)
    peft_model = get_peft_model(model, cfg)
    names = [n for n, _ in peft_model.named_parameters() if "lora_A" in n]
    assert names and all("q_proj" in n for n in names)
    assert cfg.use_rslora
    layer = peft_model.base_model.model.model.layers[0].self_attn.q_proj
    assert layer.scaling["default"] == pytest.approx(8 / 4 ** 0.5)


def test_seq2seq_encoder_and_decoder_selection(small_model):
    model = AutoModelForSeq2SeqLM.from_pretrained(small_model("m2m100"))
    cfg = lora_config(model, r=2, layers="last:1", encoder_layers="none")
    peft_model = get_peft_model(model, cfg)
    assert _lora_layers(peft_model, r"decoder\.layers\.(\d+)\.") == [1]
    assert _lora_layers(peft_model, r"encoder\.layers\.(\d+)\.") == []


def test_empty_selection_is_an_error(small_model):
    model = AutoModelForCausalLM.from_pretrained(small_model("qwen3"))
    with pytest.raises(ConfigError, match="empty"):
        lora_config(model, layers="none")


@pytest.mark.parametrize("arch, expected", [("qwen3", ["embed_tokens"]),
                                            ("llama", ["embed_tokens", "lm_head"])])
def test_embedding_module_names_tied_and_untied(small_model, arch, expected):
    model = AutoModelForCausalLM.from_pretrained(small_model(arch))
    assert embedding_module_names(model) == expected
