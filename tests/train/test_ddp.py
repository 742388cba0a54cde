"""Two-process CPU (gloo) data-parallel training through the same `train` call."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file

from langadapt.train import TrainConfig, train


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch_two_ranks(cfg: dict, tmp_path: Path) -> list[dict]:
    """Run `ddp_worker.py` on `cfg` as 2 gloo ranks on the loopback address; each rank's report."""
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(worker), str(cfg_path),
           str(tmp_path)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    return [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1)]


def test_two_process_gloo_ranks_agree(small_model, data_dir, tmp_path):
    cfg = dict(model=str(small_model("qwen3")), output_dir=str(tmp_path / "out"), method="full",
               data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 60},
               seq_len=32, batch_size=2, max_steps=3, lr=5e-3)
    ranks = _launch_two_ranks(cfg, tmp_path)
    assert ranks[0]["digest"] == ranks[1]["digest"]           # identical weights after DDP steps
    assert ranks[0]["step"] == ranks[1]["step"] == 3
    assert ranks[0]["tokens"] == 3 * 2 * 2 * 32               # tokens summed over both ranks
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text())
    assert summary["world_size"] == 2

    # Data parallelism, not two copies: 2 ranks x batch 2 equal one process with batch 4
    # (same data order, gradients averaged over both ranks). Two independent copies would
    # differ by about the learning rate (5e-3) almost everywhere; the tolerance leaves room
    # for Adam magnifying float noise where a gradient is near zero.
    single = train(TrainConfig(**{**cfg, "batch_size": 4, "output_dir": str(tmp_path / "single")}), "cpt")
    assert single.summary["total_tokens"] == summary["total_tokens"]
    ddp_w = load_file(tmp_path / "out" / "model.safetensors")
    one_w = load_file(single.output_dir / "model.safetensors")
    assert ddp_w.keys() == one_w.keys()
    for k in ddp_w:
        torch.testing.assert_close(ddp_w[k], one_w[k], rtol=1e-3, atol=2e-4, msg=lambda m, k=k: f"{k}: {m}")


def test_two_process_new_rows_only_merges_once_and_keeps_old_rows(small_model, data_dir, tmp_path):
    """Trainable-token rows under DDP: ranks agree, rank 0 merges while the other waits."""
    base = small_model("qwen3")
    first_new = len(load_file(base / "model.safetensors")["model.embed_tokens.weight"]) - 3000
    cfg = dict(model=str(base), output_dir=str(tmp_path / "out"), method="embeddings", lr=5e-2,
               embeddings={"new_rows_only": True, "base_vocab_size": first_new},
               data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 60},
               seq_len=32, batch_size=2, max_steps=2)
    ranks = _launch_two_ranks(cfg, tmp_path)
    assert ranks[0]["digest"] == ranks[1]["digest"]
    out = tmp_path / "out"
    assert not (out / "adapter_config.json").exists()
    old = load_file(base / "model.safetensors")["model.embed_tokens.weight"]
    new = load_file(out / "model.safetensors")["model.embed_tokens.weight"]
    assert torch.equal(old[:first_new], new[:first_new])
    assert not torch.equal(old[first_new:], new[first_new:])
