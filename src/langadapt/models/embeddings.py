"""Resize a model to an extended or trimmed tokenizer, initialise new rows, check it still works.

Two kinds of tokenizer folders come from `langadapt tokenizer`:

* extended: `new_tokens.jsonl` lists the appended tokens (`id`, `token`, `text`,
  `base_ids`); old ids never move. The input embeddings and the output head (tied or
  not) grow, and the new rows are filled by a registered init method
  (`langadapt.models.init`).
* trimmed: `id_map.json` holds `kept_old_ids` (new id i <-> old id kept_old_ids[i]); the
  rows of the kept ids are selected from the input embeddings and the head.

Function preservation is measured before anything is written (`resize_checks`): extended
models must give the base tokenizer's ids the same logits as before (the probability mass
the new rows take is reported); trimmed models must give kept tokens the full model's logits.
"""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import torch

from langadapt.errors import DataError, LangadaptError
from langadapt.models.init import InitContext, NewToken, make_init, validate_init
from langadapt.models.resize_checks import (
    check_extension,
    check_same_tokens,
    check_texts,
    check_trim,
    probe_ids,
    validate_new_tokens,
)
from langadapt.runs import (
    ResultRow,
    atomic_dir,
    atomic_write_json,
    cache_key,
    code_version,
    content_id,
    signature,
)

log = logging.getLogger(__name__)

NEW_TOKENS, ID_MAP, REPORT = "new_tokens.jsonl", "id_map.json", "resize.json"


# ------------------------------------------------------------------ tokenizer sidecar files
def read_new_tokens(path: str | Path) -> list[NewToken]:
    """Parse `new_tokens.jsonl`; malformed lines are DataErrors with file and line."""
    path = Path(path)
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
            out.append(NewToken(id=int(rec["id"]), token=str(rec["token"]), text=str(rec["text"]),
                                base_ids=tuple(int(i) for i in rec["base_ids"])))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise DataError(f"bad new-token record ({e.__class__.__name__}: {e}); expected "
                            '{"id", "token", "text", "base_ids"}', file=str(path), line=n) from None
    return out


def read_id_map(path: str | Path) -> tuple[int, list[int]]:
    """Parse `id_map.json`: (base_vocab_size, kept_old_ids)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return int(data["base_vocab_size"]), [int(i) for i in data["kept_old_ids"]]
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"bad id map ({e.__class__.__name__}: {e}); expected "
                        '{"base_vocab_size": int, "kept_old_ids": [int, ...]}', file=str(path)) from None


def tokenizer_kind(folder: str | Path) -> str:
    """`extended`, `trimmed` or `plain`, from the sidecar file the folder holds."""
    folder = Path(folder)
    if (folder / NEW_TOKENS).is_file():
        return "extended"
    if (folder / ID_MAP).is_file():
        return "trimmed"
    return "plain"


# ------------------------------------------------------------------ matrices
def _head(model):
    """The output head, or None when it is the input embedding matrix (tied)."""
    head = model.get_output_embeddings()
    if head is None or head.weight is model.get_input_embeddings().weight:
        return None
    return head


def is_tied(model) -> bool:
    return _head(model) is None


def untie_head(model) -> None:
    """Give a tied model its own output head, a copy of the input embeddings (same logits)."""
    head = model.get_output_embeddings()
    head.weight = torch.nn.Parameter(model.get_input_embeddings().weight.detach().clone())
    for cfg in {id(c): c for c in (model.config, model.config.get_text_config())}.values():
        cfg.tie_word_embeddings = False


def extend_rows(model, new_tokens: list[NewToken], method, seed: int) -> dict:
    """Grow the embeddings (and an untied head) to hold every new id; fill the new rows."""
    rows_before = model.get_input_embeddings().weight.shape[0]
    size = max(rows_before, max(t.id for t in new_tokens) + 1)
    facts = method.prepare()  # before growing: model-based methods score the untouched base
    if method.wants_own_head and is_tied(model):
        untie_head(model)
        facts = {**facts, "untied_head": True}
    torch.manual_seed(seed)  # the library's own init of the grown rows, overwritten below
    model.resize_token_embeddings(size, mean_resizing=False)
    ids = torch.tensor([t.id for t in new_tokens])
    with torch.no_grad():
        emb = model.get_input_embeddings().weight
        emb[ids] = method.rows(emb.detach(), "input").to(emb.device)
        head = _head(model)
        if head is not None:
            head.weight[ids] = method.rows(head.weight.detach(), "output").to(head.weight.device)
            if getattr(head, "bias", None) is not None:
                head.bias[ids] = head.bias[: rows_before].mean()
    return {"rows_before": rows_before, "rows_after": size, **facts}


def select_rows(model, kept_old_ids: list[int]) -> dict:
    """Keep only the rows of `kept_old_ids`, in that order, in the embeddings and the head."""
    rows_before = model.get_input_embeddings().weight.shape[0]
    bad = [i for i in kept_old_ids if not 0 <= i < rows_before]
    if bad:
        raise DataError(f"id map keeps ids outside the model's {rows_before} rows, e.g. {bad[:3]}")
    kept = torch.tensor(kept_old_ids)
    emb_rows = model.get_input_embeddings().weight.detach()[kept].clone()
    head = _head(model)
    head_rows = head.weight.detach()[kept].clone() if head is not None else None
    bias = head.bias.detach()[kept].clone() if head is not None and head.bias is not None else None
    model.resize_token_embeddings(len(kept_old_ids), mean_resizing=False)
    with torch.no_grad():
        model.get_input_embeddings().weight.copy_(emb_rows)
        if head_rows is not None:
            new_head = model.get_output_embeddings()
            new_head.weight.copy_(head_rows)
            if bias is not None:
                new_head.bias.copy_(bias)
    _remap_special_ids(model, {old: new for new, old in enumerate(kept_old_ids)})
    return {"rows_before": rows_before, "rows_after": len(kept_old_ids)}


def _remap_special_ids(model, old_to_new: dict[int, int]) -> None:
    """Point bos/eos/pad/decoder-start ids in the configs at the trimmed ids."""
    def remap(v):
        if isinstance(v, list):
            return [old_to_new[i] for i in v if i in old_to_new] or None
        return old_to_new.get(v) if v is not None else None

    for cfg in (model.config, getattr(model, "generation_config", None)):
        for key in ("bos_token_id", "eos_token_id", "pad_token_id", "decoder_start_token_id"):
            if cfg is not None and getattr(cfg, key, None) is not None:
                setattr(cfg, key, remap(getattr(cfg, key)))


# ------------------------------------------------------------------ the whole operation
def _rows(report: dict) -> list[ResultRow]:
    """Result rows from a `resize.json` report."""
    chk = report["check"]
    sig = signature(options={k: report[k] for k in ("mode", "init", "init_options", "atol")},
                    seed=report["seed"], config=report["key"])
    common = dict(n=chk["tokens"], dataset=report["check_source"], model=report["out"],
                  variant=report["init"] or report["mode"], signature=sig)
    mass_metric = "resize.new_token_mass" if report["mode"] == "extended" else "resize.dropped_mass"
    return [
        ResultRow(metric="resize.old_logits_max_abs_diff", value=chk["max_abs_diff"],
                  extra={"atol": chk["atol"], "passed": chk["passed"]}, **common),
        ResultRow(metric=mass_metric, value=chk["mass"], **common),
        ResultRow(metric="resize.nll_after", value=chk["nll_after"],
                  extra={"nll_before": chk["nll_before"]}, **common),
    ]


def _init_inputs(init_options: dict | None) -> dict:
    """`init_options` with the files it names (a corpus) replaced by their contents' hashes."""
    def named_file(v) -> bool:  # a file, or a folder named as a path ("." is not hashed)
        return isinstance(v, (str, Path)) and (Path(v).is_file() or ("/" in str(v) and Path(v).is_dir()))

    out = {}
    for k, v in (init_options or {}).items():
        if isinstance(v, (list, tuple)) and any(named_file(x) for x in v):
            out[k] = [content_id(x) if named_file(x) else x for x in v]
        else:
            out[k] = content_id(v) if named_file(v) else v
    return out


def resize_model(base: str | Path, tokenizer: str | Path, out: str | Path, *, init: str = "fvt",
                 init_options: dict | None = None, seed: int = 0, check_text: str | Path | None = None,
                 device: str | None = None, dtype: str = "auto", force: bool = False) -> list[ResultRow]:
    """Resize `base` to the extended or trimmed `tokenizer` folder and save it under `out`.

    Writes an HF model folder with the tokenizer, its sidecar file and `resize.json`
    (the function-preservation check). Raises when the check fails, so no broken
    model is ever written. A finished `out` with the same inputs is reused.
    """
    from langadapt.models.loading import load_model, load_tokenizer

    tok_dir, out = Path(tokenizer), Path(out)
    mode = tokenizer_kind(tok_dir)
    if mode == "plain":
        raise DataError(f"the tokenizer folder has neither {NEW_TOKENS} (extended) nor {ID_MAP} "
                        "(trimmed); make one with 'langadapt tokenizer'", file=str(tok_dir))
    if mode == "extended":
        validate_init(init, init_options)  # fail on a typo before loading a large model
    # Contents, not just paths: a tokenizer re-extended in place (or a base retrained in
    # place) under the same name must not reuse the old output.
    # The key also holds langadapt's version: an upgrade recomputes rather than reuses.
    key = cache_key({"base": content_id(base), "tok": content_id(tok_dir),
                     "init": init if mode == "extended" else None,
                     "init_options": _init_inputs(init_options), "seed": seed, "dtype": dtype,
                     "check_text": content_id(check_text) if check_text else None})
    if not force and (out / REPORT).is_file():
        done = json.loads((out / REPORT).read_text())
        if done.get("key") == key:
            log.info("%s is already resized with these inputs; reusing it", out)
            return _rows(done)
    loaded = load_model(base, device=device, dtype=dtype)
    model, base_tok = loaded.model, loaded.tokenizer
    new_tok = load_tokenizer(tok_dir)
    atol = 1e-5 if model.dtype == torch.float32 else 1e-2
    report = {"key": key, "langadapt": code_version(), "mode": mode, "base": str(base),
              "tokenizer": str(tok_dir), "out": str(out),
              "seed": seed, "atol": atol, "dtype": str(model.dtype), "tied": is_tied(model),
              "check_source": str(check_text) if check_text else None, "init": None,
              "init_options": init_options or {}}
    if mode == "extended":
        check, facts = _extend(model, base_tok, new_tok, tok_dir, init, init_options, seed,
                               check_text, atol, report)
    else:
        check, facts = _trim(model, base_tok, new_tok, tok_dir, seed, check_text, atol, report)
    report.update(check=check.as_dict(), facts=facts)
    if not check.passed:
        raise LangadaptError(f"function preservation failed: logits of kept ids moved by "
                             f"{check.max_abs_diff:.3g} (> {atol:g}); nothing was written")
    log.info("resize %s: max |logit diff| %.3g, mass %.4f", mode, check.max_abs_diff, check.mass)
    _save(model, new_tok, tok_dir, out, report)
    return _rows(report)


def _extend(model, base_tok, new_tok, tok_dir, init, init_options, seed, check_text, atol, report):
    new_tokens = read_new_tokens(tok_dir / NEW_TOKENS)
    n_base = len(base_tok)
    validate_new_tokens(new_tokens, n_base, len(new_tok), str(tok_dir / NEW_TOKENS))
    check_same_tokens(base_tok, new_tok, [(i, i) for i in range(n_base)], str(tok_dir), "extended")
    ctx = InitContext(new_tokens=new_tokens, n_base=n_base, seed=seed,
                      initializer_range=getattr(model.config, "initializer_range", 0.02),
                      extended_tokenizer=new_tok, base_tokenizer=base_tok, model=model)
    method = make_init(init, ctx, init_options)
    report.update(init=init, n_new=len(new_tokens), check_source=report["check_source"] or "new-token texts")
    ids = probe_ids(base_tok, check_texts(check_text, [t.text for t in new_tokens]))
    new_ids = [t.id for t in new_tokens]
    return check_extension(model, ids, new_ids, lambda: extend_rows(model, new_tokens, method, seed), atol)


def _trim(model, base_tok, new_tok, tok_dir, seed, check_text, atol, report):
    base_size, kept = read_id_map(tok_dir / ID_MAP)
    if len(kept) != len(new_tok):
        raise DataError(f"the id map keeps {len(kept)} ids but the tokenizer has {len(new_tok)}",
                        file=str(tok_dir / ID_MAP))
    check_same_tokens(base_tok, new_tok, list(enumerate(kept)), str(tok_dir / ID_MAP), "trimmed")
    report.update(n_kept=len(kept), base_vocab_size=base_size)
    if check_text:
        ids = probe_ids(new_tok, check_texts(check_text, []))
    else:  # no text given: random sequences of kept tokens probe every part of the matrix
        report["check_source"] = "random kept ids"
        ids = torch.randint(0, len(kept), (4, 64), generator=torch.Generator().manual_seed(seed))
    return check_trim(model, ids, kept, lambda: select_rows(model, kept), atol)


def _save(model, tok, tok_dir: Path, out: Path, report: dict) -> None:
    with atomic_dir(out, [report["base"], tok_dir], command="model resize", also_ours=(REPORT,)) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        for side in (NEW_TOKENS, ID_MAP):
            if (tok_dir / side).is_file():
                shutil.copy2(tok_dir / side, tmp / side)
        atomic_write_json(tmp / REPORT, report)
