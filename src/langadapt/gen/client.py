"""Chat-completion requests with bounded concurrency, counted retries and honoured Retry-After.

The official `openai` client does the HTTP (its own retries are off, so every retry is
ours and counted). Transient trouble — 408/409/429/5xx, timeouts, dropped connections,
malformed answers — is retried with exponential backoff and jitter, waiting at least
what `Retry-After` asks. A request that still fails is returned as a `Failure` with its
id; a wrong key, URL or model name stops the whole run at the first answer that says so.

Three guards, because an answer is untrusted data: `timeout_s` bounds each whole request
(the HTTP client's timeout is per read, so a server dripping bytes could hold it open);
a redirect off the configured origin stops the run before anything is sent there; and an
answer is checked against the chat-completion shape (`Reply`, strict types) before it
becomes an `Answer`, so nothing malformed reaches the journal. An answer echoing the API
key has the key redacted.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.dataclasses import dataclass as checked_dataclass

from langadapt.errors import ConfigError
from langadapt.gen.options import ServerOptions, origin

log = logging.getLogger(__name__)
RETRY_STATUS = frozenset({408, 409, 429}) | frozenset(range(500, 600))
FATAL_STATUS = {401: "the server refused the API key", 403: "the server refused access",
                404: "the server has no such endpoint or model"}


@dataclass
class Request:
    key: str                      # cache key of the answer
    id: str                       # where it comes from, for reports ("line 7 field output")
    messages: list[dict]


@checked_dataclass(config=ConfigDict(strict=True))
class Answer:
    """One stored answer; its types are checked whenever one is made (from a reply or a journal line)."""

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


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")


class _Message(_Strict):
    content: str | None = None
    refusal: str | None = None


class _Choice(_Strict):
    message: _Message
    finish_reason: str | None = None


class _Usage(_Strict):
    prompt_tokens: int = Field(0, ge=0)
    completion_tokens: int = Field(0, ge=0)


class Reply(_Strict):
    """The part of a chat-completion answer we use, with strict types (a number is not text)."""

    choices: list[_Choice] = Field(min_length=1)
    usage: _Usage | None = None


class Malformed(ValueError):
    """An answer that is not a chat completion; `str()` says where, never what (it is untrusted)."""


def parse_reply(body: bytes) -> Reply:
    """The checked reply in `body`, or Malformed."""
    try:
        reply = Reply.model_validate(json.loads(body))
    except (ValueError, UnicodeDecodeError) as e:  # json's and pydantic's errors are ValueErrors
        if not isinstance(e, ValidationError):
            raise Malformed("not JSON") from None
        err = e.errors()[0]
        raise Malformed(f"{'.'.join(map(str, err['loc'])) or 'body'}: {err['msg']}") from None
    message = reply.choices[0].message
    # null content is a valid answer only beside a refusal, or when cut off (a reasoning model
    # that spent max_tokens thinking); the gates then reject it as such
    if message.content is None and message.refusal is None and reply.choices[0].finish_reason != "length":
        raise Malformed("choices.0.message.content: null without a refusal")
    return reply


class RedirectRefused(ConfigError):
    """The server redirected a request off the configured origin; nothing was sent there."""


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
        self._origin = origin(opts.base_url)
        http = openai.DefaultAsyncHttpxClient(timeout=opts.timeout_s,
                                              event_hooks={"response": [self._refuse_redirect_off_origin]})
        # A local server needs no key, but the client insists on one.
        self.client = openai.AsyncOpenAI(base_url=opts.base_url, api_key=api_key or "no-key",
                                         max_retries=0, timeout=opts.timeout_s, http_client=http)
        self.counts = Counts()
        self.rng = random.Random()

    def _redact(self, message: str) -> str:
        return message.replace(self._secret, "***") if self._secret else message

    async def _refuse_redirect_off_origin(self, response) -> None:
        """Response hook: runs before the HTTP client follows a redirect, so a redirect to another
        scheme, host or port stops here and the request body (prompts, texts) never goes there."""
        if not response.has_redirect_location:
            return
        location = response.headers["location"]
        try:
            target = response.url.join(location)
            off = origin(str(target)) != self._origin
        except Exception:  # noqa: BLE001 (the HTTP client's URL error, or ours): it leads nowhere known
            target, off = location, True
        if off:
            raise RedirectRefused(
                f"the server at {self.opts.base_url} redirected a request to {target} (HTTP "
                f"{response.status_code}); requests are never sent off the configured origin, so "
                "nothing went there: set base_url to the server's real address if you trust it",
                key="base_url")

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
            retry_after = detail = None
            try:
                # the whole request, body included, within timeout_s (the HTTP timeout is per read)
                raw = await asyncio.wait_for(self.client.chat.completions.with_raw_response.create(
                    model=o.model, messages=req.messages, **params), o.timeout_s)
                return self._answer(req, parse_reply(raw.http_response.content), attempt)
            except oa.APIStatusError as e:
                if e.status_code in FATAL_STATUS:
                    raise ConfigError(f"{FATAL_STATUS[e.status_code]} (HTTP {e.status_code}); check "
                                      "base_url, model and api_key_env", key="openai") from None
                if e.status_code not in RETRY_STATUS:
                    return Failure(req.key, req.id, self._redact(f"HTTP {e.status_code}: {e.message}"),
                                   attempt + 1)
                kind, retry_after = f"http_{e.status_code}", retry_after_s(e.response.headers)
            except (oa.APITimeoutError, asyncio.TimeoutError):
                kind = "timeout"
            except oa.APIConnectionError:
                kind = "connection"
            except Malformed as e:
                kind, detail = "malformed", f"malformed answer ({e})"
            self.counts.error(kind)
            if attempt == o.max_retries:
                what = detail if kind == "malformed" else kind
                return Failure(req.key, req.id, f"{what} after {attempt + 1} attempts", attempt + 1)
            self.counts.retries += 1
            wait = backoff_s(o, attempt, retry_after, self.rng)
            log.debug("%s: %s, retry %d in %.2fs", req.id, kind, attempt + 1, wait)
            await asyncio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _answer(self, req: Request, reply: Reply, attempt: int) -> Answer:
        choice, usage = reply.choices[0], reply.usage or _Usage()
        refusal = choice.message.refusal
        return Answer(req.key, self._redact(choice.message.content or ""), choice.finish_reason,
                      self._redact(refusal) if refusal is not None else None,
                      usage.prompt_tokens, usage.completion_tokens, attempt)
