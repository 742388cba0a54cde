"""The OpenAI-compatible server backend: translation requests built, sent and answered.

Each distinct text is protected (`langadapt.gen.protect`), put in the prompt template
and keyed by a hash of the model, the messages and the sampling parameters, so an answer
stored under its key (the journal of `langadapt.resume`) is reused only for the same request.
`ask` sends requests through `ChatClient` and hands each checked answer to a callback the
moment it arrives; `translate_texts_openai` is the plain backend (answers kept as given).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict

from tqdm.auto import tqdm

from langadapt.errors import ConfigError, LangadaptError
from langadapt.gen.backend import BACKENDS, OnBatch
from langadapt.gen.client import Answer, ChatClient, Counts, Failure, Request
from langadapt.gen.options import ServerOptions
from langadapt.gen.prompt import build_messages
from langadapt.gen.protect import protect, restore
from langadapt.generation_options import GenerationOptions
from langadapt.runs import hash_obj
from langadapt.thinking import strip_thinking

log = logging.getLogger(__name__)


class GenerationFailed(LangadaptError):
    """Some requests failed after all their retries; every other answer is kept."""


def api_key(opts: ServerOptions) -> str | None:
    """The key from the environment variable the settings name (never from a file)."""
    if not opts.api_key_env:
        return None
    key = os.environ.get(opts.api_key_env)
    if not key:
        raise ConfigError(f"environment variable {opts.api_key_env} is not set (it should hold the "
                          "server's API key)", key="api_key_env")
    return key


def requests_for(items: Iterable[tuple[str, str]], opts: ServerOptions, src: str, tgt: str
                 ) -> tuple[dict[str, Request], dict[str, str], dict[str, list[str]]]:
    """One request per distinct text of `items` ((id for reports, text) pairs), keyed by model,
    prompt, parameters and (protected) text.

    Returns the requests by key, each text's key, and each text's protected spans.
    """
    requests, key_of, spans = {}, {}, {}
    for where, text in items:
        if text in key_of:
            continue
        masked, spans[text] = protect(text, opts.protect)
        messages = build_messages(opts.prompt, masked, src, tgt)
        key_of[text] = k = hash_obj({"server": opts.output_key(), "messages": messages})
        requests.setdefault(k, Request(k, where, messages))
    return requests, key_of, spans


def ask(opts: ServerOptions, key: str | None, pending: list[Request],
        store: Callable[[Answer], None] | None, progress: bool) -> tuple[Counts, dict[str, dict], list]:
    """Send `pending`; `store` sees each answer as it arrives. Returns the counts, the answers
    (as dicts, by key) and the failures."""
    if not pending:
        return Counts(), {}, []
    client, answers = ChatClient(opts, key), {}
    bar = tqdm(total=len(pending), desc="translate", unit="text", disable=not progress)

    def on_answer(answer: Answer) -> None:
        if store:
            store(answer)
        answers[answer.key] = answer
        bar.update()

    try:
        failures = asyncio.run(client.run(pending, on_answer))
    finally:
        bar.close()
    return client.counts, {k: asdict(a) for k, a in answers.items()}, failures


def failed(failures: Sequence[Failure], total: int, kept: str) -> GenerationFailed:
    """The error naming the failed requests by id (the first ten) and what was kept."""
    shown = "; ".join(f"{f.id}: {f.reason}" for f in failures[:10])
    return GenerationFailed(f"{len(failures)} of {total} requests failed after their retries "
                            f"({shown}{' …' if len(failures) > 10 else ''}); {kept}")


def translate_texts_openai(opts: ServerOptions, texts: Sequence[str], src: str, tgt: str, *,
                           progress: bool = False) -> list[str]:
    """Translations of `texts`, in order, as the server gave them: markers restored, no gates.

    For hypotheses (`eval.flores`, the `translate` stage with `generation.backend: openai`):
    every answer is kept, and the counts of cut-off or refused ones are logged.
    """
    requests, key_of, spans = requests_for(((f"line {i + 1}", t) for i, t in enumerate(texts)),
                                           opts, src, tgt)
    _, new, failures = ask(opts, api_key(opts), list(requests.values()), None, progress)
    if failures:
        raise failed(failures, len(requests), "nothing was kept")
    problems = Counter()
    out = {}
    for text, k in key_of.items():
        answer = Answer(**new[k])
        if answer.finish_reason not in (None, "stop"):
            problems[f"finish_reason {answer.finish_reason}"] += 1
        out[text] = restore(strip_thinking(answer.text), spans[text])[0]
    if problems:
        log.warning("%s of %d answers: %s", sum(problems.values()), len(requests), dict(problems))
    return [out[t] for t in texts]


@BACKENDS.register("openai")
class OpenAIBackend:
    """The `generation.server` settings; their model defaults to the stage's model name."""

    def __init__(self, model, opts: GenerationOptions):
        server = opts.server
        if not server.model:  # the stage's model names the server's model
            name = str(model) if isinstance(model, (str, os.PathLike)) else model.name  # or a Loaded
            server = server.model_copy(update={"model": name})
        self.server = server

    def translate(self, texts: Sequence[str], src: str, tgt: str, *, progress: bool = False,
                  on_batch: OnBatch | None = None) -> list[str]:
        out = translate_texts_openai(self.server, texts, src, tgt, progress=progress)
        if on_batch:  # one batch: the client keeps `concurrency` requests in flight itself
            on_batch(list(range(len(texts))), out)
        return out
