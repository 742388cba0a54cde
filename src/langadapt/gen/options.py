"""Settings of the `openai` generation backend: server, sampling, retries, prompt, prices, gates."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from langadapt.config import StrictModel, read_yaml, validate
from langadapt.errors import ConfigError

DEFAULT_SYSTEM = (
    "You are a professional translator. Translate the user's text from {src} to {tgt}. "
    "Keep every marker such as ⟦0⟧, every number, URL, code span and markdown sign exactly "
    "as it is.{glossary} Reply with the translation only.")
# Refusal-shaped openings, English and Mongolian ("Уучлаарай" sorry; "Би … чадахгүй" I cannot;
# "Хиймэл оюун ухааны хувьд" as an AI). Not applied when the source opens the same way.
DEFAULT_REFUSALS = [r"^\s*(I'?m|I am) sorry\b", r"^\s*I (cannot|can'?t|won'?t|am unable to)\b",
                    r"^\s*As an AI\b", r"^\s*Sorry, (but )?I\b",
                    r"^\s*Уучлаарай,? би\b", r"^\s*Би (үүнийг |энийг |та(ны|нд) )?(\w+ )?"
                    r"(чадахгүй|чадсангүй|боломжгүй)", r"^\s*Хиймэл оюун(ы| ухааны)"]


class PromptTemplate(StrictModel):
    """The chat messages of one request: `{src}`, `{tgt}`, `{glossary}` and `{text}` are filled in."""

    system: str = DEFAULT_SYSTEM
    user: str = "{text}"                           # the source text goes in verbatim by default
    few_shot: list[tuple[str, str]] = []           # (source, translation) pairs shown first
    glossary: dict[str, str] = {}                  # source term -> required translation


class Prices(StrictModel):
    """US dollars per million tokens, for the cost estimate."""

    prompt_per_mtok: float = Field(ge=0)
    completion_per_mtok: float = Field(ge=0)


class Gates(StrictModel):
    """Checks on every answer; a failing record is rejected with the check's name."""

    langid: bool = True                            # the target's language-ID label (profile)
    min_length_ratio: float = Field(0.3, ge=0)     # answer chars / source chars
    max_length_ratio: float = Field(3.0, gt=0)
    copied: bool = True                            # answer equal to the source
    repetition: bool = True                        # repeated n-gram loops (profile thresholds)
    numbers: bool = True                           # every number of the source comes back
    markdown: bool = True                          # line-leading markdown signs come back


class BackTranslation(StrictModel):
    """Send accepted translations back into the source language and score them with chrF."""

    min_chrf: float | None = Field(None, ge=0, le=100)  # below it: rejected; None: only scored


class ServerOptions(StrictModel):
    """Where and how to ask. The API key is read from the environment variable named here."""

    base_url: str = Field(description="e.g. http://127.0.0.1:8000/v1 (vllm serve, llama.cpp, Ollama…)")
    model: str | None = None                       # the server's model name (required, except
                                                   # under `generation:`, where the stage's model is)
    api_key_env: str | None = Field(None, description="NAME of the environment variable holding the API key")
    temperature: float | None = Field(0.0, ge=0)   # None: not sent (models that fix it)
    max_tokens: int = Field(1024, ge=1)
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"  # newer APIs
    seed: int | None = None                        # sent when set (servers that honour it)
    extra_body: dict[str, Any] = {}                # server-specific request fields, sent as they are
                                                   # (vLLM: {chat_template_kwargs: {enable_thinking: false}})
    concurrency: int = Field(8, ge=1, description="requests in flight")
    timeout_s: float = Field(120.0, gt=0, description="seconds per whole request, body included")
    max_retries: int = Field(5, ge=0, description="retries per request, after the first try")
    backoff_s: float = Field(1.0, ge=0)            # first retry waits about this, then doubles
    backoff_max_s: float = Field(60.0, ge=0)
    retry_after_max_s: float = Field(300.0, ge=0)  # longest Retry-After honoured
    prompt: PromptTemplate = PromptTemplate()
    refusal_patterns: list[str] = DEFAULT_REFUSALS  # regexes (case-insensitive) of refusals
    protect: list[str] = ["code", "url", "placeholder"]  # spans sent as markers, restored after
    gates: Gates = Gates()
    back_translation: BackTranslation | None = None  # optional chrF of the round trip
    prices: Prices | None = None

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        origin(url)  # a URL the HTTP client would choke on is a config error here, not a traceback
        return url

    def output_key(self) -> dict:
        """What decides an answer (for cache keys and signatures); never the key or the URL."""
        key = {"model": self.model, "temperature": self.temperature, "max_tokens": self.max_tokens,
               "seed": self.seed}
        if self.extra_body:  # only when set, so keys of plain requests stay as they were
            key["extra_body"] = self.extra_body
        return key

    def signature(self) -> dict:
        """What decides the translations, for result signatures (no key, no URL)."""
        sig = {**self.output_key(), "prompt": self.prompt.model_dump(), "protect": self.protect}
        if self.back_translation is not None:
            sig["back_translation"] = self.back_translation.model_dump()
        return sig


def origin(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; ValueError naming what is wrong.

    Requests never leave this origin (a redirect elsewhere is refused), so it is checked once here.
    """
    try:
        parts = urlsplit(url)
        port = parts.port  # parsed lazily: an out-of-range port or a bad IPv6 host raises here
    except ValueError as e:
        raise ValueError(f"base_url {url!r} is not a valid URL ({e}); expected e.g. "
                         "http://127.0.0.1:8000/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"base_url {url!r} is not an http(s) URL with a host; expected e.g. "
                         "http://127.0.0.1:8000/v1")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def load_server_options(path: str | Path | None = None, **flags) -> ServerOptions:
    """Server settings from a YAML file (`--config`), with the CLI flags that were given on top."""
    data, locations, where = {}, {}, "command line"
    if path:
        raw, locations = read_yaml(path)
        if not isinstance(raw, dict):
            raise ConfigError("expected a mapping of server settings", file=str(path))
        data, where = dict(raw), str(path)
    data.update({k: v for k, v in flags.items() if v is not None})
    return validate(ServerOptions, data, file=where, locations=locations)
