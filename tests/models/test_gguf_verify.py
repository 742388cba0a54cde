"""Export verification on a real pair: the SmolLM2 Q4_1 GGUF against its imported HF folder.

The pair shares every weight value (the import dequantizes the file), so tokenization must
be identical and the logits close; a tokenizer with one merge removed must be caught.
"""

from __future__ import annotations

import json
import shutil

import pytest

from langadapt.errors import DataError
from langadapt.gen import llamacpp
from langadapt.models.gguf_verify import compare_weights, verify_export, write_report

NAME = "smollm2-135m-instruct"


@pytest.fixture(scope="module")
def pair(imported, data_dir):
    """(gguf, imported HF folder, 12 FLORES lines: 6 Mongolian, 6 English)."""
    if (why := llamacpp.runtime_missing()) is not None:
        pytest.skip(why)
    src, hf = imported(NAME)
    lines = []
    for lang in ("khk_Cyrl", "eng_Latn"):
        lines += (data_dir / "flores" / f"{lang}.dev.txt").read_text(encoding="utf-8").splitlines()[:6]
    return src, hf, lines


@pytest.mark.slow
def test_quantized_file_agrees_with_its_import_and_the_report_is_written(pair, tmp_path):
    src, hf, lines = pair
    report = verify_export(src, hf, lines, weights_type="q4_1", max_logit_texts=4, max_tokens=48)
    assert report["tokenization"]["texts"] == report["tokenization"]["identical"] == 12
    lg = report["logits"]
    assert lg["texts"] == 4 and lg["positions"] > 100 and lg["vocab_compared"] == 49152
    # measured: KL 0.004, top-1 0.97 (the runtime quantizes activations; HF runs in float32)
    assert lg["kl_mean"] < 0.05 and lg["top1_agreement"] > 0.9 and report["warnings"] == []
    assert report["import"] is None and lg["tolerance"] is None
    runtime = report["runtime"]
    assert runtime["package"] == "ik-llama-cpp-python" and "ik_llama.cpp" in runtime["runtime"]
    out = tmp_path / "m.gguf"
    written = write_report(out, report)
    assert written == tmp_path / "m.gguf.verify.json"
    assert json.loads(written.read_text())["logits"]["positions"] == lg["positions"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.gguf.verify.json"]


@pytest.mark.slow
def test_a_tokenizer_missing_one_merge_is_one_line_naming_the_text(pair, tmp_path):
    from transformers import AutoTokenizer

    src, hf, lines = pair
    bad = shutil.copytree(hf, tmp_path / "bad")
    data = json.loads((bad / "tokenizer.json").read_text(encoding="utf-8"))
    # remove the merge that builds the longest token of line 2 (line 1 does not use it)
    tok = AutoTokenizer.from_pretrained(hf)
    pieces = tok.convert_ids_to_tokens(tok(lines[1], add_special_tokens=False)["input_ids"])
    first = set(tok.convert_ids_to_tokens(tok(lines[0], add_special_tokens=False)["input_ids"]))
    target = max((p for p in pieces if p not in first), key=len)
    merges = data["model"]["merges"]
    joined = ["".join(m) if isinstance(m, list) else m.replace(" ", "") for m in merges]
    del merges[joined.index(target)]
    (bad / "tokenizer.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError) as e:
        verify_export(src, bad, lines, weights_type="q4_1", max_logit_texts=0)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"{src}: check text line 2 tokenizes differently")
    assert lines[1][:20] in msg and "llama.cpp [" in msg and "vs HF [" in msg and "ids)" in msg


# ---------------------------------------------------------------- f32: the exporter's own files
@pytest.fixture(scope="module")
def tiny_f32(trimmed_tokenizer, tmp_path_factory):
    """(tiny Llama folder on the trimmed Llama 3 tokenizer, its f32 export written unchecked)."""
    from langadapt.models.gguf_export import export_gguf
    from langadapt.models.tiny import make_tiny

    if (why := llamacpp.runtime_missing()) is not None:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("f32")
    folder = make_tiny("llama", trimmed_tokenizer("llama3"), root / "tiny", seed=0)
    out = export_gguf(folder, root / "tiny.gguf", type="f32", verify=False, modelfile=False)
    return folder, out


def _changed_copy(folder, out, scale: float, seed: int = 0):
    """A copy of the model folder with every weight moved by up to `scale` (noise)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_((torch.rand(p.shape, generator=g) - 0.5) * 2 * scale)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(folder).save_pretrained(out)
    return out


def test_f32_check_passes_on_the_export_and_catches_other_weights(tiny_f32, data_dir, tmp_path):
    from langadapt.models.gguf import import_gguf

    folder, gguf = tiny_f32
    lines = (data_dir / "flores" / "khk_Cyrl.dev.txt").read_text(encoding="utf-8").splitlines()[:3]
    # the import round trip is checked once here, on its own (the exporter's tests run it in full)
    report = verify_export(gguf, folder, lines, weights_type="f32", threads=1, import_check=False)
    assert report["logits"]["max_abs_diff"] <= 0.1 and report["logits"]["top1_agreement"] == 1.0
    assert report["import"] is None
    back = import_gguf(gguf, tmp_path / "back")
    same = compare_weights(back, folder, file=str(gguf))
    assert same["missing"] == [] and same["max_abs_diff"] <= 1e-6 and same["compared"] == same["tensors"] > 0
    # weights moved by 1e-4: within the logits' f32 tolerance, but not the same weights
    near = _changed_copy(folder, tmp_path / "near", 1e-4)
    assert verify_export(gguf, near, lines, weights_type="f32", threads=1,
                         import_check=False)["logits"]["max_abs_diff"] <= 0.1
    with pytest.raises(DataError, match=r"importing the file back does not give the HF weights: \S+ differs"):
        compare_weights(back, near, file=str(gguf))
    # weights moved by 0.05: the logits check fails
    far = _changed_copy(folder, tmp_path / "far", 5e-2)
    with pytest.raises(DataError, match="f32 logits differ from the HF model's by up to"):
        verify_export(gguf, far, lines, weights_type="f32", threads=1, import_check=False)
