"""Training: one lifecycle (HF Trainer + accelerate) for cpt / sft / mt with full / lora / embeddings.

    from langadapt.train import load_train_config, train
    result = train(load_train_config("train.yaml"), objective="cpt")

See docs/training.md for the config keys and the output-folder contract.
"""

from langadapt.train.config import OBJECTIVES, TrainConfig, load_train_config
from langadapt.train.trainer import TrainResult, train

__all__ = ["OBJECTIVES", "TrainConfig", "TrainResult", "load_train_config", "train"]
