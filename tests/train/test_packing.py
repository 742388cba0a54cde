import numpy as np
import pytest
import torch

from langadapt.train.packing import PackedDataset, mix_replay, pack, tokenize_documents


def _docs(*lens):
    start, out = 1, []
    for n in lens:
        out.append(np.arange(start, start + n, dtype=np.int64))
        start += n
    return out


@pytest.mark.parametrize("lens, seq_len, keep, expected_blocks, expected_real", [
    ((3, 2), 3, False, [[1, 2, 3], [0, 4, 5]], [3, 3]),          # EOS (0) between docs
    ((3, 2), 4, False, [[1, 2, 3, 0]], [4]),                       # remainder dropped
    ((3, 2), 4, True, [[1, 2, 3, 0], [4, 5, 0, -1]], [4, 3]),      # remainder padded with -1
    ((1,), 2, False, [[1, 0]], [2]),
    ((5,), 8, False, [], []),                                      # too short for one block
])
def test_pack_table(lens, seq_len, keep, expected_blocks, expected_real):
    ids, n_real = pack(_docs(*lens), seq_len, eos_id=0, keep_remainder=keep, pad_id=-1)
    assert ids.tolist() == expected_blocks
    assert n_real.tolist() == expected_real


def test_pack_shuffle_is_seeded_and_keeps_every_token():
    docs = _docs(*range(1, 30))
    a, _ = pack(docs, 16, eos_id=0, shuffle_seed=1)
    b, _ = pack(docs, 16, eos_id=0, shuffle_seed=1)
    c, _ = pack(docs, 16, eos_id=0, shuffle_seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)
    plain, _ = pack(docs, 16, eos_id=0)
    assert sorted(a.flatten().tolist()) == sorted(plain.flatten().tolist())


def test_packed_dataset_masks_padding():
    ids, n_real = pack(_docs(3, 2), 4, eos_id=0, keep_remainder=True, pad_id=9)
    ds = PackedDataset(ids, n_real)
    last = ds[1]
    assert last["attention_mask"].tolist() == [1, 1, 1, 0]
    assert last["labels"].tolist() == [4, 5, 0, -100]
    assert ds.num_tokens == 7


def test_full_blocks_carry_no_attention_mask():
    ds = PackedDataset(*pack(_docs(3, 2), 3, eos_id=0))
    assert set(ds[0]) == {"input_ids", "labels"} and ds[0]["labels"].tolist() == [1, 2, 3]


@pytest.mark.parametrize("ratio", [0.2, 0.5])
def test_replay_ratio(ratio):
    main = [np.ones(10, dtype=np.int64)] * 10           # 100 tokens
    replay = [np.full(5, 2, dtype=np.int64)] * 100      # 500 tokens available
    mixed = mix_replay(main, replay, ratio, seed=0)
    n_replay = sum(len(d) for d in mixed[10:])
    share = n_replay / sum(len(d) for d in mixed)
    assert abs(share - ratio) < 0.03
    assert mix_replay(main, replay, 0.0, seed=0) is main


def test_tokenize_documents_matches_tokenizer(tokenizers_dir, data_dir):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizers_dir / "qwen3")
    lines = (data_dir / "mono" / "bible_mbspeech.txt").read_text(encoding="utf-8").splitlines()[:5]
    got = tokenize_documents(tok, lines)
    assert [g.tolist() for g in got] == [tok(x, add_special_tokens=False)["input_ids"] for x in lines]


def test_cpt_objective_mixes_replay_and_holds_out_eval(tokenizers_dir, data_dir):
    from transformers import AutoTokenizer

    from langadapt.train.config import TrainConfig
    from langadapt.train.objectives import build_data

    tok = AutoTokenizer.from_pretrained(tokenizers_dir / "qwen3")
    mono = data_dir / "mono"
    common = dict(model="m", output_dir="o", seq_len=64)
    main_only = build_data("cpt", TrainConfig.model_validate(
        {**common, "data": {"train": [str(mono / "news_ner_v1.txt")], "limit": 200, "eval_fraction": 0.1}}),
        tok, False)
    mixed = build_data("cpt", TrainConfig.model_validate(
        {**common, "data": {"train": [str(mono / "news_ner_v1.txt")], "limit": 200, "eval_fraction": 0.1,
                            "replay": [str(mono / "bible_mbspeech.txt")], "replay_ratio": 0.25}}),
        tok, False)
    share = 1 - main_only.num_train_tokens / mixed.num_train_tokens
    assert abs(share - 0.25) < 0.02
    assert main_only.eval is not None and len(main_only.eval) == len(mixed.eval)   # replay never in eval


def test_document_positions_restart_after_eos():
    from langadapt.train.packing import document_positions

    ids = torch.tensor([5, 6, 0, 7, 8, 9, 0, 0, 4])
    assert document_positions(ids, 0).tolist() == [0, 1, 2, 0, 1, 2, 3, 0, 0]
    assert document_positions(torch.tensor([], dtype=torch.long), 0).tolist() == []


def test_separate_documents_items():
    ids, n_real = pack(_docs(3, 2), 4, eos_id=0, keep_remainder=True, pad_id=0)
    ds = PackedDataset(ids, n_real, eos_id=0)
    first, last = ds[0], ds[1]
    assert set(first) == {"input_ids", "labels", "position_ids"}  # no attention mask at all
    assert first["position_ids"].tolist() == [0, 1, 2, 3]
    assert last["input_ids"].tolist() == [4, 5, 0, 0] and last["labels"].tolist() == [4, 5, 0, -100]
    assert last["position_ids"].tolist() == [0, 1, 2, 0]


@pytest.mark.parametrize("arch", ["qwen3", "llama", "gemma3"])
def test_packed_documents_do_not_see_each_other(arch, tmp_path, tokenizers_dir):
    """A document's logits inside a packed block equal its logits alone (real architectures)."""
    from transformers import AutoModelForCausalLM

    from langadapt.models.tiny import make_tiny

    tok_dir = tokenizers_dir / {"qwen3": "qwen3", "llama": "llama3", "gemma3": "gemma3"}[arch]
    model = AutoModelForCausalLM.from_pretrained(
        make_tiny(arch, tok_dir, tmp_path / arch, layers=2, hidden=32, heads=2, kv_heads=1,
                  intermediate=64, seed=0))
    model.eval()
    eos = model.config.eos_token_id
    eos = eos[0] if isinstance(eos, list) else eos
    a, b = _docs(5, 7)
    ids, n_real = pack([a + 1000, b + 1000], 14, eos_id=eos)
    item = PackedDataset(ids, n_real, eos_id=eos)[0]
    with torch.no_grad():
        packed = model(input_ids=item["input_ids"][None], position_ids=item["position_ids"][None],
                       use_cache=False).logits[0]
        alone = model(input_ids=torch.tensor([list(b + 1000) + [eos]]), use_cache=False).logits[0]
        joined = model(input_ids=item["input_ids"][None], use_cache=False).logits[0]
    torch.testing.assert_close(packed[6:], alone, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(joined[6:], alone, atol=1e-3)  # without the positions it would see doc a


def test_trainer_loss_keeps_documents_apart(small_model, tmp_path):
    """LangadaptTrainer's loss on a packed block equals the loss of its documents scored alone."""
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, TrainingArguments

    from langadapt.train.trainer import LangadaptTrainer

    model = AutoModelForCausalLM.from_pretrained(small_model("qwen3"))
    eos = model.config.eos_token_id
    a, b = (d + 1000 for d in _docs(5, 7))
    ids, n_real = pack([a, b], 14, eos_id=eos)
    batch = {k: v[None] for k, v in PackedDataset(ids, n_real, eos_id=eos)[0].items()}
    trainer = LangadaptTrainer(model=model, args=TrainingArguments(output_dir=str(tmp_path), report_to=[]))
    with torch.no_grad():
        packed = trainer.compute_loss(model, batch)
        first = model(input_ids=torch.tensor([[*a, eos]]), use_cache=False).logits[0]
        second = model(input_ids=torch.tensor([[*b, eos]]), use_cache=False).logits[0]
    # doc a predicts its own tokens and (from its EOS) b's first token; doc b predicts the rest
    logits = torch.cat([first, second[:-1]])
    targets = torch.tensor([*a[1:], eos, b[0], *b[1:], eos])
    torch.testing.assert_close(packed, F.cross_entropy(logits, targets), rtol=1e-5, atol=1e-6)
