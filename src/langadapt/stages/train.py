"""Recipe stage `train`: the training options minus the output folder, plus the objective."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Literal

from langadapt.runs import ResultRow
from langadapt.stages import Stage, StageContext, register_stage
from langadapt.train.config import TrainConfig, TrainSettings

_KEY_FILE = "stage_key.txt"


class TrainOptions(TrainSettings):
    """`TrainSettings` plus the objective; the stage folder is the output folder."""

    objective: Literal["cpt", "sft", "mt"] = "cpt"


def _work_dir(ctx: StageContext) -> Path:
    """Where training runs: the runner's `work_dir` (it survives an interrupted attempt, so
    checkpoints there resume) when given, else the stage folder itself."""
    work = ctx.extra.get("work_dir")
    if not work:
        return ctx.out_dir
    work, key = Path(work), str(ctx.extra.get("key", ""))
    marker = work / _KEY_FILE
    if work.exists() and (not marker.is_file() or marker.read_text() != key):
        shutil.rmtree(work)  # checkpoints of different options must not be resumed
    work.mkdir(parents=True, exist_ok=True)
    marker.write_text(key)
    return work


@register_stage
class TrainStage(Stage):
    """Train a model; the stage folder becomes the model / adapter folder (see docs/training.md)."""

    kind = "train"
    Options = TrainOptions

    def run(self, opts: TrainOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.train.callbacks import LOG_NAME
        from langadapt.train.curve import CURVE_NAME
        from langadapt.train.trainer import CHECKPOINTS, train

        data = ctx.seeded(opts).model_dump(exclude={"objective"})
        work = _work_dir(ctx)
        # continue from checkpoints left by an interrupted earlier attempt
        data.update(output_dir=str(work), resume=opts.resume or True)
        result = train(TrainConfig.model_validate(data), opts.objective)
        if work != ctx.out_dir:
            ctx.out_dir.mkdir(parents=True, exist_ok=True)
            for item in work.iterdir():
                if item.name in (LOG_NAME, CURVE_NAME):
                    # a copy stays: should this attempt not be committed, the next one finishes
                    # from the last checkpoint without training and still has the loss and bpb curves
                    shutil.copy2(item, ctx.out_dir / item.name)
                elif item.name not in (CHECKPOINTS, _KEY_FILE):
                    shutil.move(str(item), str(ctx.out_dir / item.name))
            result.output_dir = ctx.out_dir
        return result.rows(variant=ctx.variant, config=opts.model_dump())
