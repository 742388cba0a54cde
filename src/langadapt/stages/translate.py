"""Recipe stages `translate` (a file through a model) and `eval.flores` (FLORES scores).

    - id: flores
      kind: eval.flores
      with:
        model: "@cpt/model"          # or hyp: ${data}/flores/google_mt.eng_Latn.dev.txt
        src: khk_Cyrl
        tgt: eng_Latn
        generation: {batch_size: 16, max_new_tokens: 64}
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from pydantic import Field

from langadapt.config import StrictModel
from langadapt.eval.translation import FloresOptions
from langadapt.generate import GenerationOptions
from langadapt.names import FileName
from langadapt.runs import ResultRow, atomic_write_json
from langadapt.stages import Stage, StageContext, register_stage


@register_stage
class TranslateStage(Stage):
    """Translate a `.txt` / `.jsonl` file; writes `<output_name>` and `stats.json`."""

    kind = "translate"

    class Options(StrictModel):
        model: str                               # model folder, hub id or adapter folder
        input: str                               # .txt lines or .jsonl records
        src: str                                 # FLORES code of the input language
        tgt: str                                 # FLORES code to translate into
        fields: list[str] = ["text"]             # .jsonl fields to translate
        output_name: FileName | None = None      # default: the input's file name
        flush_every: int | None = Field(None, ge=1)  # texts per saved chunk
        generation: GenerationOptions = GenerationOptions()

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.translate import translate_file

        gen = ctx.seeded(opts.generation)
        out = ctx.out_dir / (opts.output_name or Path(opts.input).name)
        # Unfinished work must outlive the stage's temp folder (dropped when a run is killed),
        # so it is kept in the run's cache folder and deleted once the stage succeeds.
        cache = ctx.scratch_dir()
        rows = translate_file(opts.model, opts.input, out, src=opts.src, tgt=opts.tgt,
                              fields=tuple(opts.fields), gen=gen,
                              flush_every=opts.flush_every, progress=True, cache_dir=cache)
        with contextlib.suppress(OSError):  # finished: the cache folders go too, when empty
            cache.rmdir()
            cache.parent.rmdir()
        for r in rows:
            r.variant = ctx.variant
            r.dataset = Path(opts.input).name
        atomic_write_json(ctx.out_dir / "stats.json", {r.metric: r.value for r in rows})
        return rows


@register_stage
class FloresStage(Stage):
    """FLORES evaluation of a model (generates) or of an existing output file."""

    kind = "eval.flores"
    Options = FloresOptions

    def run(self, opts: FloresOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.eval.translation import eval_flores
        from langadapt.stages.eval import with_context

        opts = with_context(opts, ctx)
        opts = opts.model_copy(update={"generation": ctx.seeded(opts.generation)})
        return eval_flores(opts, out_dir=ctx.out_dir)
