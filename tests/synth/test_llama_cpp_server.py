"""The openai backend against a real llama.cpp server serving the SmolLM2 GGUF checkpoint.

The server is llama-cpp-python's (`pip install 'llama-cpp-python[server]'`, built from
source) started here on 127.0.0.1; the checkpoint is the one `langadapt model fetch
smollm2-135m-instruct` caches. Without either, the test skips and says which.
SmolLM2-135M cannot translate into Mongolian, so the gates reject its answers: what is
checked is the protocol (real usage counts, finish reasons, resume, a FLORES stage
generating through the server), not translation quality.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from langadapt.models import fetch

pytestmark = pytest.mark.slow


def _smollm2() -> Path:
    path = fetch.cached_path("smollm2-135m-instruct")
    if not path.is_file():
        pytest.skip(f"{path.name} is not in the model cache {path.parent} "
                    "(run 'make models' or 'langadapt model fetch smollm2-135m-instruct')")
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    pytest.importorskip("llama_cpp.server.app", reason="llama-cpp-python with its server extra is not "
                        "installed (pip install 'llama-cpp-python[server]'; it builds llama.cpp "
                        "from source)")
    model = _smollm2()
    port = _free_port()
    log = tmp_path_factory.mktemp("llama") / "server.log"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(log, "wb") as f:
        proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                                 "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
                                 "--n_ctx", "2048", "--n_threads", "2", "--seed", "0"],
                                stdout=f, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=5) as r:
                    assert json.load(r)["data"][0]["id"] == "smollm2"
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"llama.cpp server did not come up:\n{log.read_text()[-3000:]}")
                time.sleep(1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_translate_through_llama_cpp(llama_server, tmp_path, capsys):
    from langadapt.cli import main

    inp, out = tmp_path / "in.txt", tmp_path / "out.txt"
    inp.write_text("The capital of France is Paris.\nWolves live in the mountains.\n"
                   "Call {name} at 5 pm.\n", encoding="utf-8")
    cfg = tmp_path / "server.yaml"
    cfg.write_text("max_tokens: 48\ntemperature: 0\nseed: 0\n", encoding="utf-8")
    args = ["translate", "--backend", "openai", "--base-url", llama_server, "--model", "smollm2",
            "--config", str(cfg), "--concurrency", "2", "--src", "eng_Latn", "--tgt", "khk_Cyrl",
            "--json", str(inp), str(out)]
    assert main(args) == 0
    rows = {r["metric"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    assert rows["translate.new"]["value"] == 3 and rows["translate.requests"]["value"] >= 3
    assert rows["translate.prompt_tokens"]["value"] > 30  # the server's own token counts
    assert rows["translate.completion_tokens"]["value"] > 0
    assert rows["translate.kept"]["value"] + rows["translate.rejected"]["value"] == 3
    assert out.read_text(encoding="utf-8").count("\n") == 3  # .txt lines stay aligned
    # a second run of the same command reuses nothing (the journal went with the output) but
    # gives the same file: greedy decoding with a fixed seed
    first = out.read_bytes()
    assert main(args) == 0
    capsys.readouterr()
    assert out.read_bytes() == first


def test_flores_hypotheses_through_llama_cpp(llama_server, data_dir, caplog):
    """What `eval.flores` / `translate` stages do with `generation.backend: openai`: every
    answer is a hypothesis, and answers cut by the length limit are counted in a warning."""
    from langadapt.generate import GenerationOptions, translate_texts

    src = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()[:3]
    gen = GenerationOptions(backend="openai", server={"base_url": llama_server, "max_tokens": 4})
    hyps = translate_texts("smollm2", src, "khk_Cyrl", "eng_Latn", gen)
    assert len(hyps) == 3 and all(h.strip() for h in hyps)
    assert "3 of 3 answers: {'finish_reason length': 3}" in caplog.text  # the server's own reason
