"""What an objective hands the trainer: datasets, collator, and the tokens and bytes they hold.

Its own module so that the objectives registry and the objectives' data builders
(`cpt_data`) both import it without importing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch.utils.data import Dataset


@dataclass
class TrainData:
    train: Dataset
    eval: Dataset | None
    collator: Callable
    num_train_tokens: int   # real (non-pad) tokens per epoch
    padded: bool = True      # training batches contain padding (count tokens by attention mask)
    num_train_bytes: int | None = None  # UTF-8 bytes of the text behind one epoch's tokens

    def bytes_for(self, tokens: int) -> int | None:
        """Bytes of text behind `tokens` training tokens (pro rata within an epoch)."""
        if self.num_train_bytes is None or not self.num_train_tokens:
            return None
        return round(tokens * self.num_train_bytes / self.num_train_tokens)
