"""Recipe stage `translate.openai`: synthetic data through an OpenAI-compatible server.

    - id: synth
      kind: translate.openai
      with:
        input: recipes/data/instructions.en.jsonl   # Alpaca or chat records, or .txt lines
        src: eng_Latn
        tgt: khk_Cyrl
        server:
          base_url: http://127.0.0.1:8000/v1          # vllm serve, llama.cpp, Ollama, a hosted API
          model: Qwen/Qwen2.5-7B-Instruct
          api_key_env: OPENAI_API_KEY                 # the variable's NAME; the key stays there

The stage folder holds the output (`<output_name>`, ready for `train` with
`objective: sft`), `rejected/<reason>.jsonl.gz` and `stats.json` (the funnel, tokens,
retries and cost). The answer journal lives in the run's cache folder until the stage
succeeds, so a killed run resumes without paying twice.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from pydantic import model_validator

from langadapt.config import StrictModel
from langadapt.gen.options import ServerOptions
from langadapt.names import FileName
from langadapt.runs import ResultRow, atomic_write_json
from langadapt.stages import Stage, StageContext, register_stage


@register_stage
class TranslateOpenAIStage(Stage):
    """Translate a `.jsonl` / `.txt` file through a server, gate the answers, keep the good ones."""

    kind = "translate.openai"

    class Options(StrictModel):
        input: str                               # .jsonl records (Alpaca, messages, text) or .txt
        src: str                                 # FLORES code of the input language
        tgt: str                                 # FLORES code to translate into
        fields: list[str] | None = None          # .jsonl fields (default: recognised from the records)
        output_name: FileName | None = None      # default: the input's file name
        server: ServerOptions                    # see docs/synthetic-data.md

        @model_validator(mode="after")
        def _named_model(self):
            if not self.server.model:
                raise ValueError("server.model: give the server's model name")
            return self

    def run(self, opts: Options, ctx: StageContext) -> list[ResultRow]:
        from langadapt.synth.run import translate_file_openai

        server = ctx.seeded(opts.server)
        out = ctx.out_dir / (opts.output_name or Path(opts.input).name)
        cache = ctx.run_dir / "cache" / ctx.stage_id  # outlives the stage's temp folder
        rows = translate_file_openai(server, opts.input, out, src=opts.src, tgt=opts.tgt,
                                     fields=opts.fields, cache_dir=cache,
                                     rejected_dir=ctx.out_dir / "rejected", progress=True)
        with contextlib.suppress(OSError):  # finished: the cache folders go too, when empty
            cache.rmdir()
            cache.parent.rmdir()
        for r in rows:
            r.variant = ctx.variant
            r.dataset = Path(opts.input).name
        stats = {r.metric: r.value for r in rows}
        stats["rejected_by_reason"] = next(r.extra["by_reason"] for r in rows
                                           if r.metric == "translate.rejected")
        atomic_write_json(ctx.out_dir / "stats.json", stats)
        return rows
