import functools
import json

import pytest
from transformers import AutoTokenizer

from langadapt.errors import DataError
from langadapt.train.chat import CHATML, encode_chat, ensure_chat_template, iter_conversations, to_messages
from langadapt.train.mt import directed, encode_seq2seq, iter_pairs


@functools.cache
def _tok(path):
    return AutoTokenizer.from_pretrained(path)


@pytest.fixture(scope="module")
def qwen_tok(tokenizers_dir):
    return _tok(tokenizers_dir / "qwen3")


def _labelled_text(tok, enc):
    return tok.decode([t for t, lab in zip(enc["input_ids"], enc["labels"]) if lab != -100])


ONE_TURN = [{"role": "user", "content": "Сайн уу?"}, {"role": "assistant", "content": "Сайн, сайн. "}]
MULTI = [{"role": "system", "content": "S"}, {"role": "user", "content": "a"},
         {"role": "assistant", "content": "b"}, {"role": "user", "content": "c"},
         {"role": "assistant", "content": "d"}]


@pytest.mark.parametrize("tokenizer, messages, expected", [
    ("qwen3", ONE_TURN, "Сайн, сайн. <|im_end|>"),
    ("qwen3", MULTI, "b<|im_end|>d<|im_end|>"),         # Qwen3 adds <think></think> to the last turn
    ("llama3", ONE_TURN, "Сайн, сайн.<|eot_id|>"),       # template trims the reply
    ("llama3", MULTI, "b<|eot_id|>d<|eot_id|>"),
    ("gemma3", ONE_TURN, "Сайн, сайн.<end_of_turn>"),
    ("gemma3", MULTI, "b<end_of_turn>d<end_of_turn>"),   # one-letter replies: 'b' is also in <bos>
])
def test_loss_only_on_assistant_tokens(tokenizers_dir, tokenizer, messages, expected):
    tok = _tok(tokenizers_dir / tokenizer)
    enc = encode_chat(tok, messages, max_len=256)
    assert _labelled_text(tok, enc) == expected
    # labels are the inputs where they are set
    assert all(lab in (-100, t) for t, lab in zip(enc["input_ids"], enc["labels"]))


def test_template_less_tokenizer_gets_chatml(qwen_tok):
    tok = AutoTokenizer.from_pretrained(qwen_tok.name_or_path)
    tok.chat_template = None
    ensure_chat_template(tok)
    assert tok.chat_template == CHATML
    enc = encode_chat(tok, [{"role": "user", "content": "a"}, {"role": "assistant", "content": "б"}], 64)
    assert _labelled_text(tok, enc) == "б<|im_end|>"


def test_truncation_that_removes_the_reply_drops_the_example(qwen_tok):
    msgs = [{"role": "user", "content": "үг " * 100}, {"role": "assistant", "content": "тийм"}]
    assert encode_chat(qwen_tok, msgs, max_len=16) is None


@pytest.mark.parametrize("rec, expected_user", [
    ({"instruction": "Орчуул", "input": "hello", "output": "сайн уу"}, "Орчуул\n\nhello"),
    ({"instruction": "Орчуул", "output": "сайн уу"}, "Орчуул"),
])
def test_instruction_records(rec, expected_user):
    msgs = to_messages(rec, "f.jsonl", 1)
    assert msgs == [{"role": "user", "content": expected_user},
                    {"role": "assistant", "content": "сайн уу"}]


def test_bad_record_names_file_and_line(tmp_path):
    p = tmp_path / "sft.jsonl"
    p.write_text(json.dumps({"messages": [{"role": "user", "content": "x"}]}) + "\n"
                 + json.dumps({"prompt": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"sft.jsonl:2"):
        list(iter_conversations([str(p)]))


GOOD = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]}


@pytest.mark.parametrize("bad, match", [
    ({"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": None}]},
     r"messages\[1\]\.content is null; expected a string"),
    ({"messages": [{"role": "user", "content": [{"type": "text", "text": "a"}]}]},
     r"messages\[0\]\.content is a list; expected a string"),
    ({"messages": [{"content": "a"}, {"role": "assistant", "content": "b"}]},
     r"messages\[0\]\.role is missing"),
    ({"messages": [{"role": None, "content": "a"}]}, r"messages\[0\]\.role is None"),
    ({"messages": [{"role": "user"}]}, r"messages\[0\]\.content is missing"),
    ({"messages": ["hi"]}, r"messages\[0\] must be an object"),
    ({"messages": []}, r"'messages' must be a non-empty list"),
    ({"instruction": "x", "output": None}, r"'output' is null; expected a string"),
    ({"instruction": 3, "output": "y"}, r"'instruction' is an int; expected a string"),
    (["not", "an", "object"], r"record must be a JSON object"),
])
def test_bad_sft_record_fails_before_training_with_file_line_and_field(qwen_tok, tmp_path, bad, match):
    from langadapt.train import TrainConfig
    from langadapt.train.objectives import build_data

    p = tmp_path / "sft.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in [GOOD, GOOD, bad, GOOD]) + "\n", encoding="utf-8")
    cfg = TrainConfig.model_validate(dict(model="m", output_dir=str(tmp_path / "o"), seq_len=64,
                                          data={"train": [str(p)]}))
    with pytest.raises(DataError, match=r"sft.jsonl:3: " + match):
        build_data("sft", cfg, qwen_tok, is_seq2seq=False)


def test_instruction_record_with_null_input_is_fine():
    msgs = to_messages({"instruction": "Орчуул", "input": None, "output": "б"}, "f.jsonl", 1)
    assert msgs[0]["content"] == "Орчуул"


def test_sft_template_failure_names_the_record(qwen_tok, tmp_path, monkeypatch):
    from langadapt.train import TrainConfig, chat
    from langadapt.train.objectives import build_data

    def lost(tok, messages, text):
        raise DataError("assistant turn 1 is not found verbatim in the rendered chat template")

    monkeypatch.setattr(chat, "_assistant_spans", lost)
    p = tmp_path / "sft.jsonl"
    p.write_text("\n" + json.dumps(GOOD) + "\n", encoding="utf-8")
    cfg = TrainConfig.model_validate(dict(model="m", output_dir=str(tmp_path / "o"), seq_len=64,
                                          data={"train": [str(p)]}))
    with pytest.raises(DataError, match=r"sft.jsonl:2: assistant turn 1"):
        build_data("sft", cfg, qwen_tok, is_seq2seq=False)


@pytest.mark.parametrize("line, match", [
    ('{"khk_Cyrl": "сайн", "eng_Latn": null}', r"'eng_Latn' is null; expected a string"),
    ('{"khk_Cyrl": 5, "eng_Latn": "five"}', r"'khk_Cyrl' is an int; expected a string"),
    ('{"khk_Cyrl": "сайн", "eng_Latn": "  "}', r"empty eng_Latn text"),
    ('{"khk_Cyrl": "сайн", ', r"invalid JSON"),
    ('["сайн", "good"]', r"record must be a JSON object"),
])
def test_bad_mt_jsonl_record_is_located(tmp_path, line, match):
    p = tmp_path / "pairs.jsonl"
    p.write_text('{"khk_Cyrl": "a", "eng_Latn": "b"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs.jsonl:2: " + match):
        list(iter_pairs([str(p)], ("khk_Cyrl", "eng_Latn")))


def test_empty_tsv_side_is_located(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text("a\tb\n\tb\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"p.tsv:2: empty khk_Cyrl text"):
        list(iter_pairs([str(p)], ("khk_Cyrl", "eng_Latn")))


def test_pairs_from_shared_tsv(data_dir):
    pairs = list(iter_pairs([str(data_dir / "parallel" / "mn_en.tsv")], ("khk_Cyrl", "eng_Latn")))
    assert len(pairs) == 440
    both = directed(pairs, ("khk_Cyrl", "eng_Latn"), "both")
    assert len(both) == 880
    assert both[0][:2] == ("khk_Cyrl", "eng_Latn") and both[1][:2] == ("eng_Latn", "khk_Cyrl")
    assert both[1][2] == pairs[0][1]
    assert len(directed(pairs, ("khk_Cyrl", "eng_Latn"), "backward")) == 440


def test_bad_tsv_line_is_located(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text("a\tb\nonly-one-column\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"p.tsv:2"):
        list(iter_pairs([str(p)], ("khk_Cyrl", "eng_Latn")))


def test_seq2seq_layout(small_model):
    tok = AutoTokenizer.from_pretrained(small_model("m2m100"))
    ex = ("khk_Cyrl", "eng_Latn", "Сайн уу", "Hello")
    enc = encode_seq2seq(tok, ex, 32, 32)
    khk, eng = tok.convert_tokens_to_ids("khk_Cyrl"), tok.convert_tokens_to_ids("eng_Latn")
    assert enc["input_ids"][0] == khk and enc["input_ids"][-1] == tok.eos_token_id
    assert enc["labels"][0] == eng and enc["labels"][-1] == tok.eos_token_id
    assert tok.decode(enc["labels"][1:-1]) == "Hello"
