"""Options of `data clean` and `data bitext`: one definition for the API, the recipe stages
and the command-line flags (`langadapt.cli.fields` derives each flag, its default and help).

Kept apart from the pipeline modules so that building the command line imports no datatrove.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from langadapt.config import StrictModel

PiiMode = Literal["keep", "mask", "drop"]


class NormalizeOptions(StrictModel):
    """Which normalisation steps run (all on by default) and what happens to URLs/PII."""

    mojibake: bool = True
    nfc: bool = True
    markup: bool = True
    control: bool = True
    homoglyphs: bool = True
    whitespace: bool = True
    urls: PiiMode = Field("keep", description="URLs: keep, mask (placeholder) or drop (delete) them")
    emails: PiiMode = Field("mask", description="e-mail addresses: keep, mask or drop them")
    phones: PiiMode = Field("mask", description="phone numbers: keep, mask or drop them")


STEPS = ("mojibake", "nfc", "markup", "control", "homoglyphs", "whitespace")  # NormalizeOptions' switches


class ClusterOptions(StrictModel):
    """Resources of each task on Ray or Slurm (the local executor ignores them)."""

    cpus_per_task: int = Field(1, ge=1, description="ray/slurm: CPUs per task")
    mem_per_cpu_gb: float = Field(2.0, gt=0, description="ray/slurm: memory per CPU in GB")
    partition: str | None = Field(None, description="slurm: the partition to submit to (required there)")
    time: str = Field("04:00:00", description="slurm: time limit of each job")
    qos: str | None = Field(None, description="slurm: quality of service")
    sbatch_args: dict[str, str] = Field(default_factory=dict)  # slurm: more #SBATCH lines
    env_command: str | None = Field(None, description="slurm: shell line that sets up Python "
                                                      "(default: activate this venv)")
    poll_seconds: float = Field(10.0, gt=0, description="slurm: how often the command checks whether "
                                                        "the jobs finished, in seconds")


class CleanOptions(StrictModel):
    """Options of `langadapt data clean` (and of the recipe stage `data.clean`)."""

    inputs: list[str] = Field(min_length=1)
    lang: str = Field("khk_Cyrl", description="language profile code or YAML path")
    field: str = Field("text", description="jsonl/parquet/dataset field or csv/tsv column (name or "
                                           "0-based number)")
    txt_mode: Literal["line", "paragraph"] = Field(
        "line", description="txt: one document per line, or blank-line separated paragraphs")
    split: str = Field("train", description="split of an HF dataset input")
    limit: int | None = Field(None, description="read at most this many documents")
    workers: int = Field(1, ge=1, description="tasks per stage (processes, Ray tasks or Slurm array jobs; "
                                              "= output shards)")
    split_bytes: int = Field(16 << 20, ge=1, description="fewer files than workers: split plain files "
                                                         "of at least twice this many bytes")
    executor: Literal["local", "ray", "slurm"] = Field(
        "local", description="where the tasks run: local processes, a Ray cluster (RAY_ADDRESS, else a "
                             "local one), Slurm")
    cluster: ClusterOptions = Field(default_factory=ClusterOptions)  # ray/slurm task resources
    normalize: NormalizeOptions = Field(default_factory=NormalizeOptions)
    langid: str | None = Field("py3langid", description="language-ID backend: py3langid | fasttext176 | "
                                                        "lingua | none")
    langid_min_score: float | None = Field(None, description="minimum language score (default: the "
                                                             "profile's)")
    mixed: Literal["doc", "drop"] = Field(
        "drop", description="multi-line documents: drop foreign lines first (drop) or judge the whole doc")
    quality: bool = Field(True, description="run the quality filters")
    dedup_exact: bool = Field(True, description="drop exact duplicates")
    dedup_near: bool = Field(True, description="drop near duplicates (MinHash)")
    minhash_unit: Literal["char", "word"] = Field(
        "char", description="MinHash shingles: character n-grams (for sentences) or word n-grams")
    minhash_ngrams: int | None = Field(None, ge=1, description="MinHash n-gram size (default: 4 "
                                                               "characters, or 2 words)")
    minhash_char_max: int = Field(1000, ge=0, description="with --minhash-unit char, longer documents "
                                                          "get word 5-grams (characters; 0: never)")
    minhash_buckets: int | None = Field(None, ge=1, description="MinHash buckets (default: 24 for char, "
                                                                "20 for word)")
    minhash_hashes_per_bucket: int | None = Field(None, ge=1, description="MinHash hashes per bucket "
                                                                          "(default: 8 for char, 5 for word)")
    decontaminate: list[str] = Field(default_factory=list, description="evaluation files; training "
                                     "documents sharing an n-gram or sentence with them are dropped")
    decontaminate_ngram: int = Field(13, description="decontamination n-gram length in words")
    decontaminate_field: str = Field("text", description="field of jsonl evaluation files")
    rejected_samples: int = Field(100, description="rejected documents kept per reason")
    seed: int = Field(1, description="seed of the MinHash functions")
    keep_work: bool = Field(False, description="keep the intermediate folder (debugging)")


class BitextOptions(StrictModel):
    """Options of `langadapt data bitext` (and of the recipe stage `data.bitext`)."""

    inputs: list[str] = Field(min_length=1, max_length=2)
    src: str = Field("khk_Cyrl", description="source language profile")
    tgt: str = Field("eng_Latn", description="target language profile")
    src_field: str = Field("src", description="jsonl field of the source side")
    tgt_field: str = Field("tgt", description="jsonl field of the target side")
    normalize: NormalizeOptions = Field(default_factory=NormalizeOptions)
    langid: str | None = Field("py3langid", description="language-ID backend: py3langid | fasttext176 | "
                                                        "lingua | none")
    langid_min_score: float = Field(0.0, description="minimum language score (sentences are short: the "
                                                     "top label decides by default)")
    langid_min_chars: int = Field(25, description="shorter sides are judged by their alphabet only")
    max_length_ratio: float = Field(3.0, description="longest allowed length ratio, in characters, "
                                                     "longer side / shorter side")
    length_ratio_min_chars: int = Field(20, description="pairs whose longer side is shorter are not "
                                                        "judged by their length ratio")
    check_numbers: bool = Field(True, description="drop pairs whose numbers differ")
    dedup: bool = Field(True, description="drop repeated pairs")
    decontaminate: list[str] = Field(default_factory=list, description="evaluation files; pairs sharing "
                                     "an n-gram or sentence with them are dropped")
    decontaminate_ngram: int = Field(13, description="decontamination n-gram length in words")
    rejected_samples: int = Field(100, description="rejected pairs kept per reason")
