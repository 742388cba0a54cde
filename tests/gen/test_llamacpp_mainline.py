"""The fork the project runs (ik_llama.cpp) tokenizes as mainline llama.cpp does.

Mainline's bindings (`llama-cpp-python`) are built only by `make llama-server`; without
them this skips and says so. Both read the vocabulary only, so this is quick.
"""

from __future__ import annotations

import pytest
from real_gguf import cached_gguf

from langadapt.gen import llamacpp


@pytest.mark.parametrize("name", ["smollm2-135m-instruct", "gemma3-270m"])
def test_fork_and_mainline_tokenize_alike(name, data_dir):
    mainline = pytest.importorskip(
        "llama_cpp", reason="mainline llama.cpp bindings (llama-cpp-python) are not installed: "
                            "run 'make llama-server'")
    if (why := llamacpp.runtime_missing()) is not None:
        pytest.skip(why)
    src = cached_gguf(name)
    texts = []
    for rel, n in (("flores/khk_Cyrl.dev.txt", 40), ("flores/eng_Latn.dev.txt", 40),
                   ("mono/news_ner_v1.txt", 40)):
        texts += (data_dir / rel).read_text(encoding="utf-8").splitlines()[:n]
    texts += ["", " ", "  2018 оны", "Hello\n\nworld\t!", "<bos> literal", "x" * 300]
    ref = mainline.Llama(model_path=str(src), vocab_only=True, verbose=False)
    with llamacpp.LlamaCpp(src, vocab_only=True) as fork:
        for text in texts:
            for add in (True, False):
                want = ref.tokenize(text.encode("utf-8"), add_bos=add, special=False)
                assert fork.tokenize(text, add_special=add) == want, (add, text[:60])
