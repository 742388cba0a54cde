"""Two-process CPU (gloo) data-parallel training through the same `train` call."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import yaml


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_gloo_ranks_agree(small_model, data_dir, tmp_path):
    cfg = dict(model=str(small_model("qwen3")), output_dir=str(tmp_path / "out"), method="full",
               data={"train": [str(data_dir / "mono" / "bible_mbspeech.txt")], "limit": 60},
               seq_len=32, batch_size=2, max_steps=3, lr=5e-3)
    cfg_path = tmp_path / "ddp.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    worker = Path(__file__).with_name("ddp_worker.py")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
           "--master_addr", "127.0.0.1", "--master_port", str(_free_port()), str(worker), str(cfg_path),
           str(tmp_path)]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{i}.json").read_text()) for i in (0, 1)]
    assert ranks[0]["digest"] == ranks[1]["digest"]           # identical weights after DDP steps
    assert ranks[0]["step"] == ranks[1]["step"] == 3
    assert ranks[0]["tokens"] == 3 * 2 * 2 * 32               # tokens summed over both ranks
    summary = json.loads((tmp_path / "out" / "train_summary.json").read_text())
    assert summary["world_size"] == 2
