"""Recipe stages: each is one small registered object wrapping a library call.

A stage kind (e.g. `data.clean`, `model.tiny`, `train`, `eval.bpb`) declares a strict
`Options` schema and a `run(options, ctx)` that writes only under `ctx.out_dir` and
returns result rows. The recipe runner (`langadapt.recipe`) resolves references to
other stages' outputs (`@stage_id` or `@stage_id/sub/path`), caches by content hash,
writes the completion marker and the rows.

Adding a kind:

    @register_stage
    class MyStage(Stage):
        kind = "eval.mine"
        class Options(StrictModel):
            model: str
        def run(self, opts, ctx):
            ...
            return [ResultRow(...)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, TypeVar

from langadapt.config import StrictModel
from langadapt.registry import Registry
from langadapt.runs import ResultRow

M = TypeVar("M", bound=StrictModel)

# Modules that register stage kinds; each imports only what it needs when it runs.
STAGE_MODULES = ("langadapt.stages.core", "langadapt.stages.data", "langadapt.stages.tokenizer",
                 "langadapt.stages.model", "langadapt.stages.train", "langadapt.stages.eval",
                 "langadapt.stages.translate", "langadapt.stages.layers", "langadapt.stages.synth")

STAGES: Registry[type[Stage]] = Registry("stage kind", key="kind", modules=STAGE_MODULES)


@dataclass
class StageContext:
    """What a stage gets from the runner."""

    stage_id: str
    out_dir: Path          # write outputs here only (a temp folder renamed on success)
    run_dir: Path          # the run folder, for reading other stages' logs if needed
    seed: int = 0
    variant: str | None = None
    extra: dict = field(default_factory=dict)

    def scratch_dir(self) -> Path:
        """Scratch that outlives an interrupted attempt of the stage, one folder per cache key.

        A stage resumes its own unfinished work from here; work done under another key
        (changed inputs, options or langadapt version) is never picked up. The runner
        removes it once the stage succeeds. Outside the runner (no key) it is
        `<run_dir>/cache/<stage_id>`.
        """
        base = Path(self.extra.get("work_dir") or self.run_dir / "cache" / self.stage_id)
        return base / self.extra["key"] if self.extra.get("key") else base

    def seeded(self, opts: M) -> M:
        """`opts` with the recipe's seed, unless they set their own `seed` (or have none)."""
        if "seed" not in type(opts).model_fields or "seed" in opts.model_fields_set:
            return opts
        return opts.model_copy(update={"seed": self.seed})


class Stage:
    kind: ClassVar[str]
    Options: ClassVar[type[StrictModel]]

    def run(self, opts: StrictModel, ctx: StageContext) -> list[ResultRow]:  # pragma: no cover
        raise NotImplementedError


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Class decorator: register a stage under its `kind`."""
    return STAGES.add(cls.kind, cls)


def stage_kinds() -> dict[str, type[Stage]]:
    return STAGES.as_dict()


def get_stage(kind: str) -> type[Stage]:
    return STAGES.get(kind)
