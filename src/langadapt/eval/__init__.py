"""Evaluation: bits per byte, multiple choice, morphology, translation, layer analysis.

Each metric is one module; results are `langadapt.runs.ResultRow`s with signatures.
Modules import their heavy dependencies (torch, transformers) only where they run.

* `perplexity` — bits per byte, token and word perplexity (`langadapt eval bpb`).
* `loglik` — the shared scoring of continuations given contexts.
* `stats` — the one bootstrap (CIs), paired bootstrap and approximate randomisation.
* `options` — every evaluation's options: the recipe stage's schema and the CLI's flags.
* `choice` and `tasks/` — multiple-choice and numeric-answer benchmarks as data.
* `morph` — a suffix-analyser lemma agreement score for agglutinative languages.
"""
