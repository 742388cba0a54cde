"""What a log-likelihood request conditions on: lm-evaluation-harness's BOS rule, as a table."""

from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from langadapt.eval.loglik import condition, tokenizer_adds_bos

# qwen3: no BOS at all; llama3 (this tokenizer.json): a BOS it does not add, as SmolLM2;
# gemma3: a BOS it adds itself.
ADDS = {"qwen3": False, "llama3": False, "gemma3": True}


@pytest.fixture(scope="module")
def toks(tokenizers_dir):
    return {name: AutoTokenizer.from_pretrained(tokenizers_dir / name) for name in ADDS}


@pytest.mark.parametrize("name", list(ADDS))
def test_which_tokenizers_add_bos(toks, name):
    assert tokenizer_adds_bos(toks[name]) == ADDS[name]


@pytest.mark.parametrize("name, text, expect", [
    ("qwen3", "Асуулт:", "ctx"),                 # nothing before the prompt
    ("llama3", "Асуулт:", "ctx"),                # a BOS the tokenizer does not add: none
    ("gemma3", "Асуулт:", "bos+ctx"),            # the tokenizer adds BOS: so does lm-eval
    ("gemma3", "<bos>Асуулт:", "ctx"),           # the text already starts with it
    ("qwen3", "", "eos"),                        # empty context: BOS, else EOS
    ("llama3", "", "bos"),
    ("gemma3", "", "bos"),
])
def test_condition_table(toks, name, text, expect):
    tok = toks[name]
    ctx = tok(text, add_special_tokens=False)["input_ids"]
    tgt = tok(" Улаанбаатар", add_special_tokens=False)["input_ids"]
    got_ctx, got_tgt = condition(tok, text, ctx, tgt)
    want = {"ctx": ctx, "bos+ctx": [tok.bos_token_id, *ctx], "eos": [tok.eos_token_id],
            "bos": [tok.bos_token_id]}[expect]
    assert (got_ctx, got_tgt) == (want, tgt)


def test_empty_context_and_a_target_that_starts_with_the_prefix(toks):
    tok = toks["gemma3"]
    tgt = [tok.bos_token_id, 100, 200]
    assert condition(tok, "", [], tgt) == ([tok.bos_token_id], [100, 200])
