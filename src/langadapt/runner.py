"""Run a recipe plan: cache keys by content hash, atomic stage folders, resume, results.

Each stage instance gets a cache key: a hash of its kind, its options (references kept
as `@stage` and represented by that stage's key), the seed, the content hashes of
the input files and folders it names, and langadapt's version (so an upgrade recomputes
rather than reuses what older code computed). A stage runs in a temp folder that is renamed into
`stages/<id>/` only when it succeeds, with `DONE.json` (key, rows, timing) inside, so
an interrupted run leaves no half-written stage and a re-run skips every stage whose
marker holds the same key.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from langadapt.errors import LangadaptError
from langadapt.locks import exclusive
from langadapt.names import inside
from langadapt.recipe import Plan, PlannedStage, input_paths, load_plan, run_root
from langadapt.recipe_seeds import seed_label, seed_suffixes
from langadapt.runs import (
    DONE,
    ResultRow,
    RunStore,
    atomic_dir,
    atomic_write_json,
    cache_key,
    code_version,
    hash_files,
    jsonl_text,
    signature,
    write_text_if_changed,
)

log = logging.getLogger(__name__)
KEY_VERSION = 1  # bump when the meaning of a key changes, to invalidate old caches
_BUSY = "wait for it to finish, or run again with --wait to queue behind it"


@dataclass
class StageStatus:
    """What happened (or, in a dry run, would happen) to one stage instance."""

    id: str
    kind: str
    variant: str | None
    key: str
    status: str          # "cached" | "run" | "ran" | "failed"
    seconds: float | None = None
    rows: int = 0


def compute_keys(plan: Plan) -> dict[str, str]:
    """The cache key of every instance, in plan order (a key includes its upstream keys)."""
    keys: dict[str, str] = {}
    file_hashes: dict[Path, str] = {}
    for inst in plan.stages:
        inputs = {}
        for p in input_paths(inst):
            if p not in file_hashes:
                file_hashes[p] = hash_files([p])
            inputs[str(p)] = file_hashes[p]
        keys[inst.id] = cache_key({
            "v": KEY_VERSION, "kind": inst.kind, "options": inst.raw, "variant": inst.variant,
            "seed": inst.run_seed(plan.recipe.seed), "inputs": sorted(inputs.values()),
            "upstream": {d: keys[d] for d in inst.deps},
        })
    return keys


def _status(plan: Plan, keys: dict[str, str], force: set[str]) -> dict[str, str]:
    """`cached` or `run` for each instance; forcing a stage also re-runs what depends on it."""
    store = RunStore(plan.root)
    out: dict[str, str] = {}
    for inst in plan.stages:
        out[inst.id] = "cached" if store.is_done(inst.id, keys[inst.id]) else "run"
    # Forcing is propagated separately so a cached stage downstream of a forced one re-runs.
    forced: set[str] = set()
    for inst in plan.stages:
        if inst.id in force or inst.spec in force or any(d in forced for d in inst.deps):
            forced.add(inst.id)
            out[inst.id] = "run"
    return out


def plan_status(plan: Plan, force: list[str] | None = None) -> list[StageStatus]:
    """The dry-run view: every instance with its key and whether it is cached."""
    _check_force(plan, force)
    keys = compute_keys(plan)
    status = _status(plan, keys, set(force or []))
    return [StageStatus(s.id, s.kind, s.variant, keys[s.id], status[s.id]) for s in plan.stages]


def _check_force(plan: Plan, force: list[str] | None) -> None:
    known = {s.id for s in plan.stages} | {s.spec for s in plan.stages}
    for f in force or []:
        if f not in known:
            raise LangadaptError(f"--force {f}: no such stage; stages: {', '.join(sorted(known))}")


def _clean_stale(root: Path) -> None:
    """Remove temp folders left by a run that was killed (SIGKILL skips the cleanup)."""
    stages = root / "stages"
    if stages.is_dir():
        for p in stages.iterdir():
            if p.name.startswith(".") and p.name.endswith(".tmp"):
                log.info("removing the leftover of an interrupted stage: %s", p.name)
                if p.is_dir() and not p.is_symlink():
                    shutil.rmtree(inside(root, p), ignore_errors=True)
                else:
                    p.unlink(missing_ok=True)


def write_resolved(plan: Plan, keys: dict[str, str]) -> Path:
    """`recipe.resolved.yaml`: the recipe after overrides and expansion, plus the plan.

    Rewritten only when it changes, so re-running a finished recipe touches no file.
    """
    data = dict(plan.resolved)
    data["plan"] = [{"id": s.id, "kind": s.kind, "variant": s.variant, "key": keys[s.id],
                     **({"seed": s.seed} if s.seed is not None else {}), "with": s.options}
                    for s in plan.stages]
    path = plan.root / "recipe.resolved.yaml"
    write_text_if_changed(path, yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    return path


def _run_one(plan: Plan, inst: PlannedStage, key: str) -> list[ResultRow]:
    from langadapt.stages import StageContext, get_stage

    stage_cls = get_stage(inst.kind)
    opts = stage_cls.Options.model_validate(inst.options)
    store = RunStore(plan.root)
    t0 = time.perf_counter()
    with atomic_dir(store.stage_dir(inst.id), owned=True) as tmp:  # the run folder is langadapt's
        # work_dir outlives an interrupted attempt (the temp folder does not), for stages that
        # resume long work from their own checkpoints; it is removed once the stage succeeds.
        work = store.work_dir(inst.id)
        seed = inst.run_seed(plan.recipe.seed)
        ctx = StageContext(stage_id=inst.id, out_dir=tmp, run_dir=plan.root, seed=seed,
                           variant=inst.variant, extra={"key": key, "kind": inst.kind, "work_dir": work})
        rows = list(stage_cls().run(opts, ctx) or [])
        for r in rows:
            _stamp(r, inst, opts, seed)
            stamp_seed(r, inst, plan.recipe.seed)
            if r.model and r.model.startswith(str(tmp)):  # name the folder the stage becomes
                r.model = str(store.stage_dir(inst.id)) + r.model[len(str(tmp)):]
        # The marker is written inside the temp folder, so the rename is the commit.
        atomic_write_json(tmp / DONE, {
            "key": key, "kind": inst.kind, "spec": inst.spec, "variant": inst.variant,
            "langadapt": code_version(),
            "seconds": round(time.perf_counter() - t0, 3), "finished": time.time(),
            "options": inst.raw, "rows": [r.model_dump() for r in rows]})
    shutil.rmtree(work, ignore_errors=True)
    with contextlib.suppress(OSError):
        work.parent.rmdir()  # only when no other stage keeps work there
    return rows


def _stamp(row: ResultRow, inst: PlannedStage, opts, seed: int) -> None:
    row.extra["stage"] = inst.id
    row.extra.setdefault("kind", inst.kind)
    if row.variant is None:
        row.variant = inst.variant
    if not row.signature:
        row.signature = signature(options=opts.model_dump(mode="json"), seed=seed, config=inst.raw)
    # which langadapt computed the row, also where a stage wrote its own signature
    row.signature.setdefault("tools", {}).setdefault("langadapt", code_version())


def stamp_seed(row: ResultRow, inst: PlannedStage, recipe_seed: int) -> ResultRow:
    """Tag a row of a stage in the seed dimension with its seed, and its label with `@seedN`."""
    if inst.seed is not None:
        row.extra["seed"] = inst.seed
        row.variant = seed_label(row.variant, seed_suffixes(inst.seed, recipe_seed)[1])
    return row


def sync_results(plan: Plan) -> list[ResultRow]:
    """Rebuild `results.jsonl` from the markers of the plan's finished stages, in plan order."""
    store = RunStore(plan.root)
    rows: list[ResultRow] = []
    for inst in plan.stages:
        info = store.done_info(inst.id)
        for r in info.get("rows", []) if info else []:
            # a seed's first run may be cached from before `seeds` (the recipe's seed): tag it here
            rows.append(stamp_seed(ResultRow.model_validate(r), inst, plan.recipe.seed))
    write_text_if_changed(store.results_path, jsonl_text(rows))
    return rows


REPORT_KEY = ".report.key"  # the content key of what report.html was built from


def report_inputs_key(root: Path) -> str:
    """Content key of everything the report reads: results, the resolved recipe, stage markers."""
    inputs = [root / "results.jsonl", root / "recipe.resolved.yaml", *(root / "stages").glob(f"*/{DONE}")]
    return cache_key({str(p.relative_to(root)): hash_files([p]) for p in sorted(inputs) if p.is_file()})


def report_is_current(root: Path) -> bool:
    """True when `report.html` was built from the results, recipe and stages there now.

    Compared by content (the key the runner keeps beside the report), not by time stamps: a
    re-run that changed no result leaves the report alone, so its files (and the time stamp
    inside report.html) do not change, and so does a copied or touched run folder; an
    interrupted report, a new result or a finished stage makes it stale.
    """
    key = root / REPORT_KEY
    return ((root / "report.html").is_file() and key.is_file()
            and key.read_text(encoding="utf-8") == report_inputs_key(root))


def execute(plan: Plan, force: list[str] | None = None, *, report: bool = True,
            wait: bool = False) -> list[StageStatus]:
    """Run every stage that is not cached; resume-safe; build the report at the end.

    One process writes a run folder at a time: another one running it is refused, naming
    its pid and host, or waited for with `wait` (`langadapt run --wait`).
    """
    _check_force(plan, force)
    with exclusive(plan.root, "run folder", wait=wait, hint=_BUSY):
        return _execute(plan, force, report)


def _execute(plan: Plan, force: list[str] | None, report: bool) -> list[StageStatus]:
    keys = compute_keys(plan)
    status = _status(plan, keys, set(force or []))
    plan.root.mkdir(parents=True, exist_ok=True)
    _clean_stale(plan.root)
    write_resolved(plan, keys)
    store = RunStore(plan.root)
    out: list[StageStatus] = []
    for n, inst in enumerate(plan.stages, 1):
        st = StageStatus(inst.id, inst.kind, inst.variant, keys[inst.id], status[inst.id])
        if st.status == "cached":
            info = store.done_info(inst.id) or {}
            st.rows = len(info.get("rows", []))
            log.info("[%d/%d] %s (%s): cached", n, len(plan.stages), inst.id, inst.kind)
        else:
            log.info("[%d/%d] %s (%s): running", n, len(plan.stages), inst.id, inst.kind)
            t0 = time.perf_counter()
            rows = _run_one(plan, inst, keys[inst.id])
            st.status, st.seconds, st.rows = "ran", time.perf_counter() - t0, len(rows)
            store.replace_results(inst.id, rows)
            log.info("%s finished in %.1f s with %d result rows", inst.id, st.seconds, len(rows))
        out.append(st)
    sync_results(plan)
    if report and not report_is_current(plan.root):
        from langadapt.report import build_report

        build_report(plan.root, plan.root)
        write_text_if_changed(plan.root / REPORT_KEY, report_inputs_key(plan.root))  # once it is whole
    return out


def run_recipe(path: str | Path, overrides: list[str] | None = None, *, dry_run: bool = False,
               force: list[str] | None = None, report: bool = True,
               wait: bool = False) -> tuple[Plan, list[StageStatus]]:
    """Load, validate and run (or only plan, with `dry_run`) a recipe file."""
    if dry_run:
        plan = load_plan(path, overrides)
        return plan, plan_status(plan, force)
    # Locked before the plan is loaded, which imports every stage's module (seconds): a
    # second run of the folder is refused at once.
    with exclusive(run_root(path, overrides), "run folder", wait=wait, hint=_BUSY):
        plan = load_plan(path, overrides)
        _check_force(plan, force)
        return plan, _execute(plan, force, report)


def read_plan_file(run_dir: str | Path) -> list[dict]:
    """The plan recorded in a run folder's `recipe.resolved.yaml` (empty when absent)."""
    p = Path(run_dir) / "recipe.resolved.yaml"
    if not p.exists():
        return []
    return (yaml.safe_load(p.read_text(encoding="utf-8")) or {}).get("plan", [])
