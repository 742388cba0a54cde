"""Chat-completion requests with bounded concurrency, counted retries and honoured Retry-After.

The official `openai` client does the HTTP (its own retries are off, so every retry is
ours and counted). Transient trouble — 408/409/429/5xx, timeouts, dropped connections,
unparseable bodies — is retried with exponential backoff and jitter, waiting at least
what `Retry-After` asks. A request that still fails is returned as a `Failure` with its
id; a wrong key, URL or model name stops the whole run at the first answer that says so.
"""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from langadapt.errors import ConfigError
from langadapt.synth.options import ServerOptions

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
FATAL_STATUS = {401: "the server refused the API key", 403: "the server refused access",
                404: "the server has no such endpoint or model"}


@dataclass
class Request:
    key: str                      # cache key of the answer
    id: str                       # where it comes from, for reports ("line 7 field output")
    messages: list[dict]


@dataclass
class Answer:
    key: str
    text: str
    finish_reason: str | None
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    retries: int


@dataclass
class Failure:
    key: str
    id: str
    reason: str
    attempts: int


@dataclass
class Counts:
    """What the run cost: HTTP attempts, retries, and the errors retried, by kind."""

    requests: int = 0
    retries: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    def add(self, other: Counts) -> None:
        self.requests += other.requests
        self.retries += other.retries
        for kind, n in other.errors.items():
            self.errors[kind] = self.errors.get(kind, 0) + n


def retry_after_s(headers) -> float | None:
    """Seconds asked for by `retry-after-ms` or `Retry-After` (seconds or an HTTP date)."""
    if headers is None:
        return None
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def backoff_s(opts: ServerOptions, attempt: int, retry_after: float | None, rng: random.Random) -> float:
    """Wait before retry `attempt` (0-based): doubling with jitter, at least the Retry-After."""
    wait = min(opts.backoff_max_s, opts.backoff_s * 2 ** attempt) * rng.uniform(0.5, 1.0)
    if retry_after is not None:
        wait = max(wait, min(retry_after, opts.retry_after_max_s))
    return wait


class ChatClient:
    """Send many chat requests to one server; see `run`."""

    def __init__(self, opts: ServerOptions, api_key: str | None):
        try:
            import openai
        except ImportError:
            raise ConfigError("the openai backend needs the openai package: pip install "
                              "'langadapt[openai]'", key="backend") from None
        self.opts, self.openai = opts, openai
        self._secret = api_key
        # A local server needs no key, but the client insists on one.
        self.client = openai.AsyncOpenAI(base_url=opts.base_url, api_key=api_key or "no-key",
                                         max_retries=0, timeout=opts.timeout_s)
        self.counts = Counts()
        self.rng = random.Random()

    def _redact(self, message: str) -> str:
        return message.replace(self._secret, "***") if self._secret else message

    async def run(self, requests: Sequence[Request], on_answer: Callable[[Answer], None]) -> list[Failure]:
        """Ask every request, `concurrency` at a time; `on_answer` sees each answer as it arrives."""
        failures: list[Failure] = []
        position = {r.key: i for i, r in enumerate(requests)}
        pending = iter(requests)

        async def worker() -> None:
            for req in pending:  # a shared iterator: each worker takes the next request
                result = await self._ask(req)
                if isinstance(result, Failure):
                    failures.append(result)
                else:
                    on_answer(result)

        tasks = [asyncio.create_task(worker()) for _ in range(min(self.opts.concurrency, len(requests)))]
        try:
            await asyncio.gather(*tasks)
        except BaseException:
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        finally:
            await self.client.close()
        return sorted(failures, key=lambda f: position[f.key])  # in the order asked

    async def _ask(self, req: Request) -> Answer | Failure:
        o, oa = self.opts, self.openai
        params = {o.max_tokens_param: o.max_tokens}
        if o.temperature is not None:
            params["temperature"] = o.temperature
        if o.seed is not None:
            params["seed"] = o.seed
        if o.extra_body:
            params["extra_body"] = o.extra_body
        for attempt in range(o.max_retries + 1):
            self.counts.requests += 1
            retry_after = None
            try:
                r = await self.client.chat.completions.create(model=o.model, messages=req.messages,
                                                              **params)
                if not r.choices:
                    raise ValueError("an answer without choices")
                choice, usage = r.choices[0], r.usage
                return Answer(req.key, choice.message.content or "", choice.finish_reason,
                              getattr(choice.message, "refusal", None),
                              getattr(usage, "prompt_tokens", 0) or 0,
                              getattr(usage, "completion_tokens", 0) or 0, attempt)
            except oa.APIStatusError as e:
                if e.status_code in FATAL_STATUS:
                    raise ConfigError(f"{FATAL_STATUS[e.status_code]} (HTTP {e.status_code}); check "
                                      "base_url, model and api_key_env", key="openai") from None
                if e.status_code not in RETRY_STATUS:
                    return Failure(req.key, req.id, self._redact(f"HTTP {e.status_code}: {e.message}"),
                                   attempt + 1)
                kind, retry_after = f"http_{e.status_code}", retry_after_s(e.response.headers)
            except oa.APITimeoutError:
                kind = "timeout"
            except oa.APIConnectionError:
                kind = "connection"
            except (ValueError, oa.APIResponseValidationError):  # JSON or schema of the body
                kind = "malformed"
            self.counts.error(kind)
            if attempt == o.max_retries:
                return Failure(req.key, req.id, f"{kind} after {attempt + 1} attempts", attempt + 1)
            self.counts.retries += 1
            wait = backoff_s(o, attempt, retry_after, self.rng)
            log.debug("%s: %s, retry %d in %.2fs", req.id, kind, attempt + 1, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover
