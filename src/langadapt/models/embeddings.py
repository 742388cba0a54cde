"""Resize a model to an extended or trimmed tokenizer, initialise new rows, check it still works.

Two kinds of tokenizer folders come from `langadapt tokenizer`:

* extended: `new_tokens.jsonl` lists the appended tokens (`id`, `token`, `text`,
  `base_ids`); old ids never move. The input embeddings and the output head (tied or
  not) grow, and the new rows are filled by a registered init method
  (`langadapt.models.init`).
* trimmed: `id_map.json` holds `kept_old_ids` (new id i <-> old id kept_old_ids[i]); the
  rows of the kept ids are selected from the input embeddings and the head.

Function preservation is measured before anything is written: extended models must give
the base tokenizer's ids the same logits as before (the probability mass the new rows
take is reported); trimmed models must give kept tokens the full model's logits.
"""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from langadapt.errors import DataError, LangadaptError
from langadapt.models.init import InitContext, NewToken, make_init, validate_init
from langadapt.runs import (
    ResultRow,
    atomic_dir,
    atomic_write_json,
    cache_key,
    code_version,
    content_id,
    signature,
)
from langadapt.textio import iter_texts

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


# ------------------------------------------------------------------ function preservation
def logits_of(model, ids: torch.Tensor) -> torch.Tensor:
    """Float32 CPU logits of `ids` (decoder fed the same ids for encoder-decoder models)."""
    ids = ids.to(model.device)
    with torch.no_grad():
        if model.config.is_encoder_decoder:
            out = model(input_ids=ids, decoder_input_ids=ids)
        else:
            out = model(input_ids=ids)
    return out.logits.float().cpu()


def probe_ids(tok, texts: list[str], *, seq_len: int = 64, max_seqs: int = 4) -> torch.Tensor:
    """Token ids of `texts` (joined, no specials) cut into at most `max_seqs` rows of `seq_len`."""
    stream: list[int] = []
    for t in texts:
        stream += tok(t, add_special_tokens=False)["input_ids"]
        if len(stream) >= seq_len * max_seqs:
            break
    n = min(max_seqs, len(stream) // seq_len)
    if n == 0:
        if not stream:
            raise DataError("the function-preservation check text gives no tokens")
        return torch.tensor([stream[:seq_len]])
    return torch.tensor(stream[: n * seq_len]).view(n, seq_len)


def _nll(logits: torch.Tensor, ids: torch.Tensor) -> float:
    """Mean next-token negative log-likelihood (nats) of `ids` under `logits`."""
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                             ids[:, 1:].reshape(-1)).item()


@dataclass
class Check:
    max_abs_diff: float
    atol: float
    mass: float            # extended: mass on new tokens; trimmed: full model's mass on dropped ones
    nll_before: float
    nll_after: float
    tokens: int

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.atol

    def as_dict(self) -> dict:
        return {**self.__dict__, "passed": self.passed}


def check_extension(model, ids: torch.Tensor, new_ids: list[int], change, atol: float) -> tuple[Check, dict]:
    """Run `change()` (which extends `model`) between two forward passes over base-tokenizer `ids`."""
    before = logits_of(model, ids)
    facts = change()
    after = logits_of(model, ids)
    old = torch.ones(before.shape[-1], dtype=torch.bool)
    old[[i for i in new_ids if i < before.shape[-1]]] = False
    diff = (after[..., : before.shape[-1]][..., old] - before[..., old]).abs().max().item()
    mass = after.softmax(-1)[..., new_ids].sum(-1).mean().item()
    check = Check(diff, atol, mass, _nll(before, ids), _nll(after, ids), ids.numel())
    return check, facts


def check_trim(model, new_ids: torch.Tensor, kept: list[int], change, atol: float) -> tuple[Check, dict]:
    """Compare the trimmed model on `new_ids` with the full model on the same tokens' old ids."""
    kept_t = torch.tensor(kept)
    old_ids = kept_t[new_ids]
    full = logits_of(model, old_ids)
    dropped = 1.0 - full.softmax(-1)[..., kept_t].sum(-1).mean().item()
    nll_full = _nll(full, old_ids)
    full = full[..., kept_t]
    facts = change()
    trimmed = logits_of(model, new_ids)
    diff = (trimmed - full).abs().max().item()
    check = Check(diff, atol, dropped, nll_full, _nll(trimmed, new_ids), new_ids.numel())
    return check, facts


# ------------------------------------------------------------------ the whole operation
def _validate_new_tokens(new_tokens: list[NewToken], n_base: int, n_ext: int, where: str) -> None:
    if not new_tokens:
        raise DataError("no new tokens listed", file=where)
    ids = [t.id for t in new_tokens]
    if min(ids) != n_base:
        raise DataError(f"new ids start at {min(ids)}, but the model's tokenizer has {n_base} ids: was "
                        "this tokenizer extended from this model's tokenizer?", file=where)
    if len(set(ids)) != len(ids):
        raise DataError("a new-token id is listed twice", file=where)
    bad = [t.id for t in new_tokens if not n_base <= t.id < n_ext]
    if bad:
        raise DataError(f"new ids must lie in {n_base}..{n_ext - 1} (after the base vocabulary), "
                        f"e.g. {bad[:3]}", file=where)
    bad = [t.id for t in new_tokens if any(not 0 <= b < n_base for b in t.base_ids)]
    if bad:
        raise DataError(f"base_ids outside the base vocabulary for new ids {bad[:3]}", file=where)


def check_same_tokens(base_tok, new_tok, pairs: list[tuple[int, int]], where: str, made: str) -> None:
    """Each (new id, old id) pair names the same token string in `new_tok` and in `base_tok`.

    A tokenizer edited from another base has the same sidecar format but its ids point
    at other tokens (or past this vocabulary), so the model's rows would be nonsense.
    """
    old_of = {i: t for t, i in base_tok.get_vocab().items()}
    new_of = {i: t for t, i in new_tok.get_vocab().items()}
    bad = [(new, old) for new, old in pairs if old not in old_of or new_of.get(new) != old_of[old]]
    if not bad:
        return
    shown = "; ".join(f"new id {new} is {new_of.get(new)!r}, old id {old} is "
                      + (f"{old_of[old]!r}" if old in old_of else "past the base's vocabulary")
                      for new, old in bad[:3])
    raise DataError(f"vocabulary mismatch: {len(bad)} of {len(pairs)} ids name other tokens than "
                    f"this model's tokenizer ({len(base_tok)} ids) does, e.g. {shown}; was this "
                    f"tokenizer {made} from this model's tokenizer?", file=where)


def _check_texts(check_text: str | Path | None, fallback: list[str]) -> list[str]:
    return list(iter_texts([check_text], limit=64)) if check_text else fallback


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
    from langadapt.models.loading import load_model
    from langadapt.models.tiny import load_tokenizer

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
    _validate_new_tokens(new_tokens, n_base, len(new_tok), str(tok_dir / NEW_TOKENS))
    check_same_tokens(base_tok, new_tok, [(i, i) for i in range(n_base)], str(tok_dir), "extended")
    ctx = InitContext(new_tokens=new_tokens, n_base=n_base, seed=seed,
                      initializer_range=getattr(model.config, "initializer_range", 0.02),
                      extended_tokenizer=new_tok, base_tokenizer=base_tok, model=model)
    method = make_init(init, ctx, init_options)
    report.update(init=init, n_new=len(new_tokens), check_source=report["check_source"] or "new-token texts")
    ids = probe_ids(base_tok, _check_texts(check_text, [t.text for t in new_tokens]))
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
        ids = probe_ids(new_tok, _check_texts(check_text, []))
    else:  # no text given: random sequences of kept tokens probe every part of the matrix
        report["check_source"] = "random kept ids"
        ids = torch.randint(0, len(kept), (4, 64), generator=torch.Generator().manual_seed(seed))
    return check_trim(model, ids, kept, lambda: select_rows(model, kept), atol)


def _save(model, tok, tok_dir: Path, out: Path, report: dict) -> None:
    with atomic_dir(out) as tmp:
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        for side in (NEW_TOKENS, ID_MAP):
            if (tok_dir / side).is_file():
                shutil.copy2(tok_dir / side, tmp / side)
        atomic_write_json(tmp / REPORT, report)
