"""CLI group `langadapt run`: run a YAML recipe end to end, with caching and resume."""

from __future__ import annotations

import signal
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="run a YAML recipe end to end, with caching and resume",
        description="Run a recipe: validate it whole, run the stages that are not cached, "
                    "write results.jsonl and the report into the run folder.")
    p.add_argument("recipe", help="recipe YAML file (see docs/recipes.md)")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="override recipe settings, e.g. seed=1 cpt.with.max_steps=20, or set a param "
                        "or preset the recipe declares, e.g. model=Qwen/Qwen2.5-7B preset=gpu")
    p.add_argument("--dry-run", action="store_true", help="print the plan (cached or to run) and stop")
    p.add_argument("--force", action="append", default=[], metavar="STAGE",
                   help="re-run this stage (and what depends on it) even if cached; repeatable")
    p.add_argument("--no-report", action="store_true", help="do not build the report at the end")
    p.add_argument("--wait", action="store_true",
                   help="when another process is running this run folder, wait for it to finish "
                        "(default: refuse, naming its pid and host)")
    p.set_defaults(func=_run)


def _sigterm(_signum, _frame):
    # Unwind normally, so the stage in progress removes its temp folder.
    raise SystemExit(143)


def _run(args) -> int:
    from langadapt.runner import run_recipe

    signal.signal(signal.SIGTERM, _sigterm)
    plan, statuses = run_recipe(args.recipe, args.overrides, dry_run=args.dry_run, force=args.force,
                                report=not args.no_report, wait=args.wait)
    out = sys.stdout
    out.write(f"recipe {plan.recipe.name} -> {plan.root}\n")
    width = max([len(s.id) for s in statuses] + [5])
    for s in statuses:
        took = f"{s.seconds:7.1f} s" if s.seconds is not None else ""
        out.write(f"  {s.id:<{width}}  {s.kind:<16} {s.variant or '-':<14} {s.status:<7} {took}\n")
    if args.dry_run:
        todo = sum(s.status == "run" for s in statuses)
        out.write(f"{todo} of {len(statuses)} stages to run, {len(statuses) - todo} cached\n")
    elif not args.no_report:
        out.write(f"report: {plan.root / 'report.html'}\n")
    return 0
