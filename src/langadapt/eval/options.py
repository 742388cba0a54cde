"""Options of every evaluation: the recipe stage's schema and the command's flags.

Each model here is what a recipe stage validates (`kind: eval.bpb` → `BpbOptions`)
and what `langadapt eval …` turns into flags (`langadapt.cli.fields`), so a default
lives in one place. The module imports neither torch nor transformers, so building
the command line stays fast.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import Field, model_validator

from langadapt.config import StrictModel
from langadapt.eval.stats import DEFAULT_RESAMPLES

MetricName = Literal["bleu", "chrf++", "chrf", "ter", "spbleu", "meteor", "comet"]
DEFAULT_METRICS: tuple[str, ...] = get_args(MetricName)

RESAMPLES_HELP = "bootstrap resamples (0: no CI)"
SEED_HELP = "seed of the resampling (a recipe stage: the recipe's seed unless given)"
VARIANT_HELP = "row label (a recipe stage: the recipe variant unless given)"
DEVICE_HELP = "cpu, cuda, cuda:1 … (default: the best available)"
DTYPE_HELP = "auto | float32 | bfloat16 | float16"


class BpbScoring(StrictModel):
    """How documents are scored (part of every row's signature)."""

    batch_size: int = Field(8, ge=1, description="windows per forward pass")
    max_length: int | None = Field(None, ge=2, description="tokens per window (default: the "
                                   "model's context, at most 4096)")
    stride: int | None = Field(None, ge=1, description="new tokens per window for long documents "
                               "(default: max_length, lm-eval's disjoint windows)")
    lang: str | None = Field(None, description="seq2seq models: language code of the text (khk_Cyrl)")


class BpbOptions(BpbScoring):
    """`langadapt eval bpb` flags and the `eval.bpb` recipe stage's options."""

    model: str = Field(description="model folder, adapter folder or hub id")
    text: list[str] = Field(description="text files (one document per line; .jsonl uses "
                            "field) or folders; each file is one dataset")
    field: str = Field("text", description="JSONL field holding the text")
    max_docs: int | None = Field(None, ge=1, description="score at most N documents per file")
    resamples: int = Field(DEFAULT_RESAMPLES, ge=0, description=RESAMPLES_HELP)
    seed: int = Field(0, description=SEED_HELP)
    variant: str | None = Field(None, description=VARIANT_HELP)
    baseline: str | None = Field(None, description="output folder of an earlier bpb evaluation "
                                 "(<file>.per_doc.tsv): adds paired deltas against it")
    device: str | None = Field(None, description=DEVICE_HELP)
    dtype: str = Field("auto", description=DTYPE_HELP)


class ChoiceOptions(StrictModel):
    """`langadapt eval choice` flags and the `eval.choice` stage's options (signature: all but
    batch size, device and dtype)."""

    model: str = Field(description="model folder, adapter folder or hub id")
    task: str = Field(description="bundled task name (belebele_khk, mmeval_khk, mmeval_khk_letters, "
                      "numeric_khk) or a task .yaml file")
    data: str | None = Field(None, description="data file in the task's format (overrides the task's)")
    limit: int | None = Field(None, ge=1, description="first N questions only")
    batch_size: int = Field(8, ge=1, description="requests per forward pass")
    translate_model: str | None = Field(None, description="translate questions and answers with "
                                        "this MT model first, then answer")
    translate_to: str = Field("eng_Latn", description="language to translate into (FLORES code)")
    translate_max_new_tokens: int = Field(256, ge=1, description="tokens per translated text")
    resamples: int = Field(DEFAULT_RESAMPLES, ge=0, description=RESAMPLES_HELP)
    seed: int = Field(0, description=SEED_HELP)
    variant: str | None = Field(None, description=VARIANT_HELP)
    device: str | None = Field(None, description=DEVICE_HELP)
    dtype: str = Field("auto", description=DTYPE_HELP)


class FloresOptionsBase(StrictModel):
    """`eval.flores` options except `generation` (`translation.FloresOptions` adds it).

    Kept apart so the command line builds its flags without importing torch."""

    model: str | None = Field(None, description="model folder, hub id or PEFT adapter folder (generates)")
    hyp: str | None = Field(None, description="line-aligned output file to score instead")
    src: str = Field(description="source language, FLORES code (e.g. khk_Cyrl)")
    tgt: str = Field(description="target language, FLORES code (e.g. eng_Latn)")
    data: str | None = Field(None, description="FLORES folder (<code>.<split>.txt, FLORES+ or "
                             "FLORES-200 layout) or hub dataset id (default: flores/ in the data folder)")
    split: str = Field("dev", description="dev or devtest")
    baseline: str | None = Field(None, description="another system's output: adds a paired test")
    test: Literal["bs", "ar"] = Field("bs", description="paired bootstrap (bs) or approximate "
                                      "randomisation (ar)")
    metrics: list[MetricName] = Field(list(DEFAULT_METRICS), description="metrics to compute")
    resamples: int = Field(DEFAULT_RESAMPLES, ge=0, description="bootstrap resamples for the CIs "
                           "and resamples (trials) of the paired test (0: no CI)")
    seed: int = Field(0, description=SEED_HELP)
    limit: int | None = Field(None, ge=1, description="only the first N sentences")
    variant: str | None = Field(None, description=VARIANT_HELP)

    @model_validator(mode="after")
    def _one_source(self):
        if (self.model is None) == (self.hyp is None):
            raise ValueError("give exactly one of 'model' or 'hyp'")
        return self


class MorphOptions(StrictModel):
    """`langadapt eval morph` flags and the `eval.morph` stage's options."""

    hyp: str = Field(description="hypotheses, one sentence per line")
    ref: str = Field(description="references, line-aligned")
    unimorph: list[str] | None = Field(None, description="UniMorph tables lemma<TAB>form<TAB>features "
                                       "(default: ${data}/morph/khk.tsv)")
    resamples: int = Field(DEFAULT_RESAMPLES, ge=0, description=RESAMPLES_HELP)
    seed: int = Field(0, description=SEED_HELP)
    variant: str | None = Field(None, description=VARIANT_HELP)


class SpeedSettings(StrictModel):
    """How generation speed is measured (in every speed row's signature)."""

    backend: Literal["hf", "llamacpp"] = Field("hf", description="hf: transformers generate on a model "
                                                "folder; llamacpp: a .gguf file in the llama.cpp runtime "
                                                "(CPU, batch size 1)")
    threads: int | None = Field(None, ge=1, description="backend llamacpp: CPU threads (default: the "
                                "cores available, OMP_NUM_THREADS where set)")
    prompts: int = Field(32, ge=1, description="documents whose first words are the prompts")
    prompt_words: int = Field(8, ge=1, description="words of each document used as its prompt")
    max_new_tokens: int = Field(64, ge=1, description="new tokens generated per prompt")
    ignore_eos: bool = Field(True, description="always generate max_new_tokens (the same steps for "
                             "every model); --no-ignore-eos stops at the end-of-sequence token")
    batch_size: int = Field(1, ge=1, description="prompts per generate call (1: single-stream speed)")
    warmup: int = Field(2, ge=0, description="untimed generations before timing")
    temperature: float = Field(0.0, ge=0, description="0: greedy decoding; > 0: sampled at this "
                               "temperature (no top-k/top-p), seeded by --seed")
    field: str = Field("text", description="JSONL field holding the text")
    lang: str = Field("khk_Cyrl", description="language profile (code or .yaml) the generated text "
                      "should be in: its language ID decides the target-language share")
    langid: str = Field("py3langid", description="language-ID backend: py3langid | fasttext176 | lingua")
    judge: str | None = Field(None, description="HF causal model (folder or hub id) that scores each "
                              "continuation in bits per byte after its prompt (none: no judge)")
    min_lang_share: float | None = Field(0.8, ge=0, le=1, description="a passing continuation has at "
                                         "least this share of its bytes in the target language")
    max_repeated_trigrams: float | None = Field(0.2, ge=0, le=1, description="a passing continuation "
                                                "repeats at most this share of its word 3-grams")
    max_repeat_share: float | None = Field(0.3, ge=0, le=1, description="a passing continuation's "
                                           "longest span that occurs twice is at most this share of it")
    max_judge_bpb: float | None = Field(3.0, gt=0, description="a passing continuation scores at most "
                                        "this many bits per byte under the judge (with a judge)")
    resamples: int = Field(DEFAULT_RESAMPLES, ge=0, description=RESAMPLES_HELP)
    seed: int = Field(0, description=SEED_HELP)
    device: str | None = Field(None, description=DEVICE_HELP)
    dtype: str = Field("auto", description=DTYPE_HELP)


class SpeedOptions(SpeedSettings):
    """`langadapt eval speed` flags and the `eval.speed` stage's options."""

    model: str = Field(description="model folder, adapter folder or hub id")
    text: list[str] = Field(description="text files (one document per line; .jsonl uses field) "
                            "whose documents' first words are the prompts")
    variant: str | None = Field(None, description=VARIANT_HELP)


class LayerInputs(StrictModel):
    """What the logit lens and the ablation evaluators read (shared, so defaults agree)."""

    text: str | None = Field(None, description="text file, one item per line (seq2seq: source lines)")
    targets: str | None = Field(None, description="seq2seq: line-aligned target lines (decoder side)")
    src_lang: str | None = Field(None, description="FLORES code of the source (seq2seq, flores)")
    tgt_lang: str | None = Field(None, description="FLORES code of the target (seq2seq, flores)")
    limit: int | None = Field(64, ge=1, description="items read (per metric); none = all")
    max_length: int = Field(256, ge=2, description="tokens per item")
    batch_size: int = Field(4, ge=1, description="items per forward pass")
    seed: int = Field(0, description=SEED_HELP)


class LensOptions(LayerInputs):
    """`langadapt eval layers` (without --ablate) flags and the `eval.lens` stage's options."""

    model: str = Field(description="model folder, adapter folder or hub id")
    text: str = Field(description="text file, one item per line (seq2seq: source lines)")
    base: str | None = Field(None, description="base model folder / hub id to compare each layer "
                             "with, or 'adapter-off' (the adapter switched off)")
    top_k: int = Field(5, ge=0, description="top tokens reported per layer")
    new_tokens: str | None = Field(None, description="the new tokens of an extended vocabulary: the "
                                   "base vocabulary size (ids from it on are new) or the extension's "
                                   "new_tokens.jsonl (or its tokenizer folder); adds the probability "
                                   "mass each layer puts on them")
    device: str | None = Field(None, description=DEVICE_HELP)
    dtype: str | None = Field("auto", description=DTYPE_HELP)


class EvalInputs(LayerInputs):
    """What the ablation evaluators read; each evaluator uses the fields it needs."""

    flores: str | None = Field(None, description="FLORES-style folder for metric flores "
                               "(default: the bundled one)")
    task: str | None = Field(None, description="choice task name or task file for metric choice")
    resamples: int = Field(DEFAULT_RESAMPLES, ge=0, description="bootstrap resamples of the CIs "
                           "and of the paired deltas against the full adapter")
    options: dict[str, dict] = Field({}, description="extra options per metric, e.g. "
                                     "{flores: {metrics: [bleu]}, generation: {max_new_tokens: 64}}")


class AblationOptions(StrictModel):
    """`langadapt eval layers --ablate` flags and the `eval.ablation` stage's options."""

    model: str = Field(description="a PEFT adapter folder")
    ablate: list[str] = Field(["early", "middle", "late"], description="layer selections to switch "
                              "LoRA off in (early|middle|late|all|i-j|i), one variant each, plus none")
    stack: Literal["decoder", "encoder", "both"] = Field("decoder", description="which stack's layers")
    metrics: list[str] = Field(["loss"], min_length=1, description="loss | bpb | flores | choice")
    scale: float = Field(0.0, description="0 switches LoRA off; another value scales it instead")
    inputs: EvalInputs = EvalInputs()
    device: str | None = Field(None, description=DEVICE_HELP)
    dtype: str | None = Field("auto", description=DTYPE_HELP)
