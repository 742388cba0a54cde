"""`eval choice` against lm-evaluation-harness on real weights: how many picks differ.

Builds 344 MM-Eval-style questions from held-out Mongolian sentences (the Mongolian side
of parallel/mn_en.tsv, 3+ words, at most 120 characters): the question is the first half
of a sentence, the options are the second halves of it and of the next three sentences
(gold rotated A-D), task `mmeval_khk`. For every (prompt, option) request the token ids
langadapt scores (`choice_requests`) are compared with those lm-eval's
`HFLM.loglikelihood` scores, on every question; on the first `--score-limit` questions
both tools score them on the same model object (langadapt through `score_choices`).
"before" is langadapt's earlier rule (BOS before every prompt whenever the tokenizer has
one), "after" the current one (`loglik.condition`). Prints JSON lines
`{name, value, unit, baseline, ratio}`: requests whose ids differ, questions whose pick
differs, accuracies (lm-eval's as the baseline), the largest log-probability difference.

    python benchmarks/choice_lm_eval.py [MODEL_DIR ...] [--score-limit N]

Without MODEL_DIR it imports the cached SmolLM2-135M-Instruct and Gemma 3 270M GGUF
checkpoints (`langadapt model fetch`) into a temporary folder first.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

MIN_WORDS, MAX_CHARS, QUESTIONS = 3, 120, 344
CACHED = ("smollm2-135m-instruct", "gemma3-270m")


def build_questions(sentences: list[str], limit: int | None = QUESTIONS) -> list[dict]:
    """MM-Eval-style records: the first half of a sentence, four candidate second halves."""
    halves = []
    for line in sentences:
        words = line.split()
        if len(words) >= MIN_WORDS and len(line) <= MAX_CHARS:
            cut = len(words) // 2
            halves.append((" ".join(words[:cut]), " ".join(words[cut:])))
    records = []
    for i, (question, _) in enumerate(halves[:limit]):
        options = [halves[(i + k) % len(halves)][1] for k in range(4)]
        gold = i % 4
        options[0], options[gold] = options[gold], options[0]
        records.append({"id": f"q{i}", "question": question,
                        "choices": dict(zip("ABCD", options)), "answer": "ABCD"[gold]})
    return records


def _old_rule(tok, text, ctx, tgt):
    """The rule before: BOS before every prompt whenever the tokenizer has one."""
    return ([tok.bos_token_id, *ctx] if tok.bos_token_id is not None else ctx), tgt


def _lm_eval(loaded, task, items, batch_size: int, score: bool) -> tuple[list, list | None]:
    """The token ids lm-eval's `HFLM.loglikelihood` scores (request order), and its scores."""
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    lm = HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=batch_size)
    seen: list[list[int]] = []
    run = lm._loglikelihood_tokens

    def record(reqs, **kw):
        seen.extend(list(ctx) + list(cont) for _, ctx, cont in reqs)
        return run(reqs, **kw) if score else [(0.0, False)] * len(reqs)

    lm._loglikelihood_tokens = record
    reqs = [Instance(request_type="loglikelihood", doc={}, arguments=(task.render(it), c), idx=0)
            for it in items for c in task.continuations(it)]
    flat = [ll for ll, _ in lm.loglikelihood(reqs, disable_tqdm=True)]
    return seen, (flat if score else None)


def _ids(loaded, task, items, old: bool) -> list[list[int]]:
    from langadapt.eval import choice

    keep = choice.condition
    choice.condition = _old_rule if old else keep
    try:
        return [list(r.context) + list(r.target) for r in choice.choice_requests(loaded, task, items)]
    finally:
        choice.condition = keep


def _picks(flat: list[float], items) -> list[int]:
    out, k = [], 0
    for it in items:
        lps = flat[k: k + len(it.choices)]
        out.append(max(range(len(lps)), key=lps.__getitem__))
        k += len(it.choices)
    return out


def compare(model_dir: str, data: Path, score_limit: int, batch_size: int = 8) -> dict:
    """Token ids on every question; picks and accuracies on the first `score_limit`."""
    from langadapt.eval.choice import score_choices
    from langadapt.eval.tasks import load_items, load_task
    from langadapt.models.loading import load_model

    loaded = load_model(model_dir, device="cpu")
    task = load_task("mmeval_khk")
    items = load_items(task, data)
    seen, _ = _lm_eval(loaded, task, items, batch_size, score=False)
    out = {"n": len(items), "requests": len(seen), "scored": min(score_limit, len(items))}
    for label, old in (("before", True), ("after", False)):
        out[label] = {"ids_differ": sum(a != b for a, b in zip(_ids(loaded, task, items, old), seen))}
    if not score_limit:
        return out
    items = items[:score_limit]
    _, flat = _lm_eval(loaded, task, items, batch_size, score=True)
    theirs = _picks(flat, items)
    out["acc_lm_eval"] = sum(q == it.gold for q, it in zip(theirs, items)) / len(items)
    from langadapt.eval import choice

    keep = choice.condition
    for label, old in (("before", True), ("after", False)):
        choice.condition = _old_rule if old else keep
        try:
            preds = score_choices(loaded, task, items, batch_size)
        finally:
            choice.condition = keep
        ours = [lp for p in preds for lp in p["logprobs"]]
        out[label].update(differ=sum(p["pred"] != q for p, q in zip(preds, theirs)),
                          acc=sum(p["acc"] for p in preds) / len(items),
                          max_logprob_diff=max(abs(a - b) for a, b in zip(ours, flat)))
    return out


def _cached_models(tmp: Path) -> list[str]:
    """The cached real checkpoints, imported into `tmp` (those not cached are left out)."""
    from langadapt.models import fetch
    from langadapt.models.gguf import import_gguf

    out = []
    for name in CACHED:
        path = fetch.cached_path(name)
        if path.is_file():
            import_gguf(path, tmp / name)
            out.append(str(tmp / name))
    return out


def main() -> None:
    from langadapt.paths import data_root

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("models", nargs="*", help="HF model folders (default: the cached GGUFs, imported)")
    ap.add_argument("--limit", type=int, default=QUESTIONS, help="questions built")
    ap.add_argument("--score-limit", type=int, default=QUESTIONS,
                    help="questions scored by both tools (token ids are compared on all)")
    args = ap.parse_args()
    pairs = (data_root() / "parallel" / "mn_en.tsv").read_text(encoding="utf-8").splitlines()
    records = build_questions([p.split("\t")[0] for p in pairs], args.limit)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "questions.jsonl"
        data.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
        for model in args.models or _cached_models(Path(tmp)):
            res = compare(model, data, args.score_limit)
            name = Path(model).name
            for label in ("before", "after"):
                r = res[label]
                rows = [(f"choice_token_ids_differ.{name}.{label}", r["ids_differ"], "requests",
                         res["requests"])]
                if "differ" in r:
                    rows += [(f"choice_picks_differ.{name}.{label}", r["differ"],
                              f"questions of the first {res['scored']}", res["scored"]),
                             (f"choice_acc.{name}.{label}", r["acc"], "accuracy (baseline: lm-eval's)",
                              res["acc_lm_eval"]),
                             (f"choice_max_logprob_diff.{name}.{label}", r["max_logprob_diff"], "nats", None)]
                for key, value, unit, base in rows:
                    ratio = value / base if base else None
                    print(json.dumps({"name": key, "value": value, "unit": unit, "baseline": base,
                                      "ratio": ratio}), flush=True)


if __name__ == "__main__":
    main()
