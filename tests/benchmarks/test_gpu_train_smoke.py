"""benchmarks/gpu_train.py only runs for real on a GPU; its --smoke mode runs the same code
on a 2-layer model on CPU, so the script cannot rot unnoticed between GPU runs."""

import json
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_train.py"


def test_gpu_train_smoke_prints_json_lines_against_bare_trainer(data_dir, tokenizers_dir):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "CUDA_VISIBLE_DEVICES": ""}
    r = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--methods", "lora"], env=env,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in r.stdout.splitlines()]     # nothing but JSON lines
    by_name = {row["name"]: row for row in rows}
    tps = by_name["gpu_train_lora_qwen2.5-0.5b_seq256_smoke_tokens_per_s"]
    assert tps["value"] > 0 and tps["baseline"] > 0
    assert abs(tps["ratio"] - tps["value"] / tps["baseline"]) < 1e-3
    assert {"gpu_train_lora_qwen2.5-0.5b_seq256_smoke_mfu",
            "gpu_train_lora_qwen2.5-0.5b_seq256_smoke_peak_memory"} <= by_name.keys()
