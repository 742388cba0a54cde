"""Evaluation: bits per byte, multiple choice, morphology, translation, layer analysis.

Each metric is one module; results are `langadapt.runs.ResultRow`s with signatures.
Modules import their heavy dependencies (torch, transformers) only where they run.

* `perplexity` — bits per byte, token and word perplexity (`langadapt eval bpb`).
* `loglik` — the shared scoring of continuations given contexts.
* `bootstrap` — percentile bootstrap CIs over items, for any metric.
* `choice` and `tasks/` — multiple-choice and numeric-answer benchmarks as data.
* `morph` — a suffix-analyser lemma agreement score for agglutinative languages.
"""
