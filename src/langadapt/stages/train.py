"""Recipe stage `train`: the training options minus the output folder, plus the objective."""

from __future__ import annotations

from typing import Literal

from langadapt.runs import ResultRow
from langadapt.stages import Stage, StageContext, register_stage
from langadapt.train.config import TrainConfig, TrainSettings


class TrainOptions(TrainSettings):
    """`TrainSettings` plus the objective; the stage folder is the output folder."""

    objective: Literal["cpt", "sft", "mt"] = "cpt"


@register_stage
class TrainStage(Stage):
    """Train a model; the stage folder becomes the model / adapter folder (see docs/training.md)."""

    kind = "train"
    Options = TrainOptions

    def run(self, opts: TrainOptions, ctx: StageContext) -> list[ResultRow]:
        from langadapt.train.trainer import train

        data = opts.model_dump(exclude={"objective"})
        if "seed" not in opts.model_fields_set:
            data["seed"] = ctx.seed  # the recipe's seed, unless the stage names its own
        # continue from checkpoints already in the stage folder (an interrupted earlier attempt)
        data.update(output_dir=str(ctx.out_dir), resume=opts.resume or True)
        result = train(TrainConfig.model_validate(data), opts.objective)
        return result.rows(variant=ctx.variant, config=opts.model_dump())
