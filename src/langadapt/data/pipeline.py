"""`data clean`: the monolingual cleaning pipeline as datatrove stages.

Stages (each a list of datatrove steps run by an executor; `tasks` = workers):

1. `filter`  read -> normalize -> langid -> quality -> decontaminate -> write work shard + hashes
2. `exact`   (1 task) first occurrence of each exact hash
3. `minhash_sig`, 4. `minhash_buckets`, 5. `minhash_cluster` (1 task): datatrove MinHash
6. `output`  work shard -> exact filter -> MinHash filter -> `data/<rank>.jsonl.gz`

`build_stages` returns them so any datatrove executor can run them; `clean` runs
them with the executor `opts.executor` names (`executor.py`: local processes that
die with the command, Ray, or Slurm jobs), whose completion markers make a re-run
skip finished tasks, then writes `stats.json` and `rejected/`. The completion key
covers the options that change the output and the inputs' size, time and content.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
from dataclasses import dataclass
from pathlib import Path

from langadapt.data.options import CleanOptions
from langadapt.errors import ConfigError, LangadaptError
from langadapt.output_guard import check_out_dir, write_marker
from langadapt.runs import atomic_write_json, cache_key, hash_files

log = logging.getLogger(__name__)
COMPLETE = ".complete.json"
# options that say where and how the stages run, not what they write
RUN_ONLY = {"executor", "cluster", "split_bytes"}


@dataclass
class StageSpec:
    name: str
    pipeline: list
    tasks: int


def _filter_steps(opts: CleanOptions, work: Path, profile) -> list:
    from langadapt.data.contamination import DecontaminationFilter
    from langadapt.data.langid import LanguageFilter
    from langadapt.data.normalize import Normalize
    from langadapt.data.outputs import RejectSink, ShardWriter
    from langadapt.data.quality import QualityFilter
    from langadapt.data.readers import InputReader, expand_inputs

    rej = str(work / "rejected")

    def sink(step: str) -> RejectSink:
        return RejectSink(rej, step, step, opts.rejected_samples)

    steps = [
        InputReader(
            expand_inputs(opts.inputs),
            field=opts.field,
            txt_mode=opts.txt_mode,
            legacy_encodings=tuple(profile.legacy_encodings),
            split=opts.split,
            limit=opts.limit,
            lines_folder=str(work / "lines"),
            min_part_bytes=opts.split_bytes,
        ),
        Normalize(opts.normalize, profile),
    ]
    if opts.langid:
        steps.append(
            LanguageFilter(
                profile, opts.langid, opts.langid_min_score, opts.mixed, exclusion_writer=sink("langid")
            )
        )
    if opts.quality:
        steps.append(QualityFilter(profile, exclusion_writer=sink("quality")))
    if opts.decontaminate:
        steps.append(
            DecontaminationFilter(
                opts.decontaminate,
                opts.decontaminate_ngram,
                field=opts.decontaminate_field,
                exclusion_writer=sink("decontaminate"),
            )
        )
    steps.append(ShardWriter(str(work / "filtered"), compress=False, hashes_folder=str(work / "exact")))
    return steps


def build_stages(opts: CleanOptions, out_dir: str | Path) -> list[StageSpec]:
    """The pipeline as datatrove stages, for any executor."""
    from datatrove.pipeline.dedup.minhash import MinhashDedupCluster, MinhashDedupFilter

    from langadapt.data.dedup import (
        ExactDedupCluster,
        ExactDedupFilter,
        MinhashBuckets,
        MinhashSignature,
        minhash_config,
    )
    from langadapt.data.outputs import RejectSink, ShardReader, ShardWriter
    from langadapt.data.quality import RegexWordTokenizer
    from langadapt.languages import load_profile

    profile = load_profile(opts.lang)
    out, work, w = Path(out_dir), Path(out_dir) / "work", opts.workers
    mh = minhash_config(
        opts.minhash_unit,
        opts.minhash_ngrams,
        opts.minhash_buckets,
        opts.minhash_hashes_per_bucket,
        opts.seed,
    )
    exact = [ExactDedupFilter(str(work / "exact"))] if opts.dedup_exact else []
    stages = [StageSpec("filter", _filter_steps(opts, work, profile), w)]
    if opts.dedup_exact:
        stages.append(StageSpec("exact", [ExactDedupCluster(str(work / "exact"), w)], 1))
    tail = []
    if opts.dedup_near:
        sig, buckets = str(work / "minhash" / "sigs"), str(work / "minhash" / "buckets")
        clusters = str(work / "minhash" / "clusters")
        tok = RegexWordTokenizer(profile.code)
        stages += [
            StageSpec(
                "minhash_sig",
                [
                    ShardReader(str(work / "filtered")),
                    *exact,
                    MinhashSignature(
                        sig, config=mh, language=tok, unit=opts.minhash_unit, char_max=opts.minhash_char_max
                    ),
                ],
                w,
            ),
            StageSpec("minhash_buckets", [MinhashBuckets(sig, buckets, config=mh)], mh.num_buckets),
            StageSpec(
                "minhash_cluster",
                [MinhashDedupCluster(buckets, clusters, config=mh, save_cluster_size=True)],
                1,
            ),
        ]
        sink = RejectSink(str(work / "rejected"), "minhash", "duplicate_near", opts.rejected_samples)
        tail = [MinhashDedupFilter(clusters, exclusion_writer=sink, load_cluster_sizes=True)]
    exact_out = (
        [
            ExactDedupFilter(
                str(work / "exact"),
                exclusion_writer=RejectSink(
                    str(work / "rejected"), "exact", "duplicate_exact", opts.rejected_samples
                ),
            )
        ]
        if opts.dedup_exact
        else []
    )
    stages.append(
        StageSpec(
            "output",
            [
                ShardReader(str(work / "filtered"), lines_folder=str(work / "lines")),
                *exact_out,
                *tail,
                ShardWriter(str(out / "data")),
            ],
            w,
        )
    )
    return stages


def input_fingerprints(opts: CleanOptions) -> list[dict]:
    """Size, modification time and content hash of every local input and evaluation file.

    Part of the completion key, so a changed input is cleaned again; a URL is known by
    its size and its filesystem's `ukey` (modification time or ETag), hub datasets by
    their id only.
    """
    from langadapt.data.readers import expand_inputs
    from langadapt.textio import is_url, url_fs

    out = []
    for raw in [*expand_inputs(opts.inputs), *opts.decontaminate]:
        if is_url(raw):
            fs, p = url_fs(raw)
            out.append({"path": raw, "size": fs.size(p), "ukey": str(fs.ukey(p))})
            continue
        p = Path(raw)
        if not p.exists():
            out.append({"path": raw})
            continue
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else [p]
        stats = [q.stat() for q in files]
        out.append(
            {
                "path": raw,
                "size": sum(st.st_size for st in stats),
                "mtime_ns": max((st.st_mtime_ns for st in stats), default=0),
                "sha256": hash_files([p]),
            }
        )
    return out


def run_key(opts: CleanOptions) -> str:
    """The completion key of a run: its options and what its inputs hold."""
    options = opts.model_dump(exclude=RUN_ONLY)
    return cache_key({"options": options, "inputs": input_fingerprints(opts)})


def _prepare(out: Path, key: str) -> None:
    """Keep work from an interrupted run with the same key; start other work afresh.

    The output of an earlier finished run stays until this run reaches its output
    stage (`_clear_old_outputs`), so a run that fails on its input changes nothing.
    """
    ours = (out / COMPLETE).exists() or (out / "work" / "key.json").exists()
    if not ours and any((out / name).exists() for name in ("data", "rejected", "stats.json")):
        # never delete a folder some other tool wrote (e.g. --out pointing at a project root)
        raise ConfigError(
            "output folder holds data/, rejected/ or stats.json that a clean run did not write; "
            "choose another --out",
            file=str(out),
        )
    if _work_state(out).get("key") == key:
        return
    shutil.rmtree(out / "work", ignore_errors=True)
    atomic_write_json(out / "work" / "key.json", {"key": key})


def _work_state(out: Path) -> dict:
    f = out / "work" / "key.json"
    return json.loads(f.read_text()) if f.exists() else {}


def _clear_old_outputs(out: Path, key: str) -> None:
    """Before the output stage: remove what an earlier run wrote (once; a resumed run keeps its own)."""
    if _work_state(out).get("outputs_cleared"):
        return
    for name in ("data", "rejected"):
        shutil.rmtree(out / name, ignore_errors=True)
    for name in ("stats.json", COMPLETE):
        (out / name).unlink(missing_ok=True)
    atomic_write_json(out / "work" / "key.json", {"key": key, "outputs_cleared": True})


def _discard(out: Path) -> None:
    """After an input error: no work to resume (the input must change first), no partial output."""
    if _work_state(out).get("outputs_cleared"):
        for name in ("data", "rejected"):
            shutil.rmtree(out / name, ignore_errors=True)
        (out / "stats.json").unlink(missing_ok=True)
    shutil.rmtree(out / "work", ignore_errors=True)


def clean(opts: CleanOptions, out_dir: str | Path) -> dict:
    """Run the pipeline (resumable) with `opts.executor`; return the stats written to `stats.json`.

    Local and Ray run one stage after another from this process; Slurm submits the
    stages as dependent job arrays plus a last job that writes the outputs, and this
    call waits for that job's completion marker.

    Raises:
        DataError: an input is unreadable (truncated or corrupt compressed file, binary
            file, nothing decodable); nothing half-written is left behind.
    """
    out = check_out_dir(out_dir, [*opts.inputs, *opts.decontaminate],
                        also_ours=(COMPLETE, "work/key.json"))  # before the inputs are read
    key = run_key(opts)
    done = out / COMPLETE
    if done.exists() and (out / "stats.json").exists():
        if json.loads(done.read_text()).get("key") == key:
            log.info("%s is complete for these options and inputs; nothing to do", out)
            return json.loads((out / "stats.json").read_text())
    _prepare(out, key)
    stages = build_stages(opts, out)
    if opts.executor == "slurm":
        return _run_slurm(opts, out, stages, key)
    from langadapt.data.executor import EXECUTORS, incomplete_tasks, task_error

    make = EXECUTORS.get(opts.executor)
    try:
        with _quiet_datatrove() as quiet:
            for st in stages:
                if st.name == "output":
                    _clear_old_outputs(out, key)
                log.info("data clean: stage %s (%d tasks, %s)", st.name, st.tasks, opts.executor)
                logs = out / "work" / "logs" / st.name
                ex = make(st.pipeline, st.tasks, opts.workers, str(logs), opts.cluster, quiet, None, st.name)
                ex.run()
                failed = incomplete_tasks(ex)
                if failed:  # the local executor raises a task's error itself; Ray only logs it
                    raise task_error(st.name, failed, logs)
    except LangadaptError:
        _discard(out)
        raise
    return finalize(opts, out, [s.name for s in stages], key)


def _run_slurm(opts: CleanOptions, out: Path, stages: list[StageSpec], key: str) -> dict:
    """Submit the stages as a chain of Slurm jobs, then wait for the run's completion marker."""
    from langadapt.data.executor import slurm_chain, wait_for_slurm

    chain = slurm_chain(
        [(s.name, s.pipeline, s.tasks) for s in stages],
        out / "work" / "logs",
        opts.workers,
        opts.cluster,
        before_output=(_clear_old_outputs, out, key),
        after=(finalize, opts, out, [s.name for s in stages], key),
    )
    with _quiet_datatrove():
        chain[-1].run()  # submits every job of the chain, each depending on the one before
    wait_for_slurm(chain[-1].job_id, out / COMPLETE, opts.cluster.poll_seconds, out / "work" / "logs")
    return json.loads((out / "stats.json").read_text())


@contextlib.contextmanager
def _quiet_datatrove():
    """datatrove logs every task to stderr through loguru; keep that for --debug only.

    Yields whether it is quiet, for the worker processes to follow.
    """
    from loguru import logger

    quiet = not logging.getLogger().isEnabledFor(logging.DEBUG)
    if quiet:
        logger.disable("datatrove")
    try:
        yield quiet
    finally:
        if quiet:
            logger.enable("datatrove")


def finalize(opts: CleanOptions, out_dir: str | Path, stage_names: list[str], key: str | None = None) -> dict:
    """After all stages ran (under any executor): write `stats.json`, `rejected/`, the marker."""
    from langadapt.data.stats import collect_stats, write_outputs

    out = Path(out_dir)
    stats = collect_stats(out / "work" / "logs", stage_names)
    for source, n in stats["undecodable_docs"].items():
        log.warning(
            "%s: %d documents hold bytes that could not be decoded; dropped with reason 'undecodable'",
            source,
            n,
        )
    write_outputs(out, stats, opts.rejected_samples)
    if not opts.keep_work:
        shutil.rmtree(out / "work", ignore_errors=True)
    write_marker(out, "data clean")
    atomic_write_json(out / COMPLETE, {"key": key or run_key(opts)})
    return stats
