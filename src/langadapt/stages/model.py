"""Recipe stages for models: `model.tiny`, `model.import`, `model.load`, `model.resize`, `model.merge`,
`model.export`.

Each writes its model folder as the stage's output folder, so later stages refer to it
as `@stage_id`.
"""

from __future__ import annotations

from typing import Literal

from langadapt.config import Seed, StrictModel
from langadapt.models.gguf_export import ExportOptions
from langadapt.models.tiny_options import TinyOptions
from langadapt.paths import expand
from langadapt.runs import ResultRow
from langadapt.stages import Stage, StageContext, register_stage


@register_stage
class TinyStage(Stage):
    """A small random model of a real architecture (`langadapt model tiny`)."""

    kind = "model.tiny"

    Options = TinyOptions

    def run(self, opts: TinyOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.models.tiny import make_tiny

        fields = ctx.seeded(opts).model_dump(exclude={"arch", "tokenizer"})
        make_tiny(opts.arch, expand(opts.tokenizer), ctx.out_dir, **fields)
        return []


@register_stage
class ImportStage(Stage):
    """A GGUF checkpoint as an HF folder (`langadapt model import`).

    `gguf` names the file (e.g. `${models}/gemma-3-270m-q4_k_m.gguf` after `langadapt model
    fetch`), so the runner keys the cache on its content.
    """

    kind = "model.import"

    class Options(StrictModel):
        gguf: str
        dtype: Literal["float32", "bfloat16"] = "float32"

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.models.gguf import import_gguf

        import_gguf(expand(opts.gguf), ctx.out_dir, dtype=opts.dtype)
        return []


@register_stage
class LoadStage(Stage):
    """Any model as an HF folder: a GGUF file (imported), a local folder or a hub id (loaded).

    The value decides (`langadapt.models.source`), so a recipe's `model=` takes any of the
    three. The cache key is the content of a local file or folder (the runner hashes the
    inputs it names), and the name plus `revision` of a hub id.
    """

    kind = "model.load"

    class Options(StrictModel):
        model: str                      # a .gguf file, a local HF folder or a hub id
        revision: str | None = None     # a hub id's branch, tag or commit (default: its main branch)
        dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.models.source import write_model

        write_model(expand(opts.model), ctx.out_dir, revision=opts.revision, dtype=opts.dtype)
        return []


@register_stage
class ResizeStage(Stage):
    """Resize a model to an extended or trimmed tokenizer and initialise new rows."""

    kind = "model.resize"

    class Options(StrictModel):
        base: str
        tokenizer: str
        init: str = "fvt"
        init_options: dict = {}
        corpus: list[str] | None = None   # shorthand for init_options.corpus (focus)
        check_text: str | None = None
        seed: Seed | None = None
        dtype: str = "auto"
        device: str | None = None

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.models.embeddings import resize_model

        init_options = dict(opts.init_options)
        if opts.corpus:
            init_options["corpus"] = [expand(c) for c in opts.corpus]
        rows = resize_model(expand(opts.base), expand(opts.tokenizer), ctx.out_dir, init=opts.init,
                            init_options=init_options, seed=ctx.seeded(opts).seed,
                            check_text=expand(opts.check_text) if opts.check_text else None,
                            device=opts.device, dtype=opts.dtype, force=True)
        for r in rows:
            r.variant = ctx.variant or r.variant
        return rows


@register_stage
class MergeStage(Stage):
    """Merge a LoRA adapter into its base model."""

    kind = "model.merge"

    class Options(StrictModel):
        adapter: str
        base: str | None = None
        dtype: str = "auto"
        device: str | None = None
        check_text: str | None = None

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.models.merge import merge_adapter

        rows = merge_adapter(expand(opts.adapter), ctx.out_dir, base=expand(opts.base) if opts.base else None,
                             dtype=opts.dtype, device=opts.device, seed=ctx.seed,
                             check_text=expand(opts.check_text) if opts.check_text else None, force=True)
        for r in rows:
            r.variant = ctx.variant or r.variant
        return rows


@register_stage
class ExportStage(Stage):
    """A model folder or adapter as a GGUF file, checked in llama.cpp (`langadapt model export`).

    Writes `model.gguf` (with `model.gguf.verify.json` and `model.Modelfile`) in the stage's
    folder; `check_text` is best the recipe's evaluation text.
    """

    kind = "model.export"

    Options = ExportOptions

    def run(self, opts: ExportOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.models.gguf_export import export_gguf

        export_gguf(expand(opts.model), ctx.out_dir / "model.gguf", type=opts.type,
                    check_texts=[expand(t) for t in opts.check_text or []] or None, verify=opts.verify,
                    base=expand(opts.base) if opts.base else None, threads=opts.threads,
                    modelfile=opts.modelfile)
        return export_rows(ctx.out_dir / "model.gguf", opts, variant=ctx.variant)


def export_rows(out, opts: ExportOptions, *, variant: str | None = None) -> list[ResultRow]:
    """The export's size and its llama.cpp check as rows (none of the check without one)."""
    import json

    from langadapt.models.gguf_export import sidecar
    from langadapt.runs import signature

    sig = signature(options={"type": opts.type, "tool": "langadapt model export"},
                    data=list(opts.check_text or []))
    rows = [ResultRow(metric="gguf.megabytes", value=out.stat().st_size / 1e6, model=str(opts.model),
                      variant=variant, dataset=opts.type, signature=sig)]
    verify = sidecar(out, ".verify.json")
    if not verify.is_file():
        return rows
    report = json.loads(verify.read_text())
    tok, logits = report["tokenization"], report["logits"]
    sig = {**sig, "runtime": report.get("runtime")}
    common = {"model": str(opts.model), "variant": variant, "dataset": opts.type, "signature": sig}
    rows.append(ResultRow(metric="gguf.tokenization_identical", value=tok["identical"] / max(tok["texts"], 1),
                          n=tok["texts"], extra={"tokens": tok["tokens"]}, **common))
    for key in ("top1_agreement", "kl_mean", "max_abs_diff"):
        if logits.get(key) is not None:
            rows.append(ResultRow(metric=f"gguf.{key}", value=logits[key], n=logits.get("positions"),
                                  **common))
    return rows
