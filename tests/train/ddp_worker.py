"""Run by `torch.distributed.run` in test_ddp.py: train, then write this rank's parameter digest."""

import hashlib
import json
import os
import sys

from transformers import TrainerCallback

from langadapt.train import load_train_config, train


class Digest(TrainerCallback):
    """At the end of training, hash the parameters this rank holds."""

    def on_train_end(self, args, state, control, model=None, **kw):
        h = hashlib.sha256()
        for name, p in sorted(model.named_parameters()):
            h.update(name.encode())
            h.update(p.detach().cpu().contiguous().numpy().tobytes())
        rank = int(os.environ["RANK"])
        out = os.path.join(sys.argv[2], f"rank{rank}.json")
        with open(out, "w") as f:
            json.dump({"rank": rank, "digest": h.hexdigest(), "step": state.global_step,
                       "tokens": state.num_input_tokens_seen}, f)


if __name__ == "__main__":
    res = train(load_train_config(sys.argv[1]), "cpt", callbacks=[Digest()])
