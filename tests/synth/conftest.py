"""A real HTTP server on 127.0.0.1 per test, and the English instruction fixture."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/fake_openai_server.py

from fake_openai_server import FakeServer  # noqa: E402

from langadapt.gen.options import ServerOptions  # noqa: E402

FIXTURE = Path(__file__).resolve().parents[2] / "recipes" / "data" / "instructions.en.jsonl"


@pytest.fixture()
def server():
    with FakeServer(slow_s=2.0) as s:
        yield s


@pytest.fixture()
def fixture_file() -> Path:
    return FIXTURE


@pytest.fixture()
def fast_options(server):
    """`fast_options(**changes)`: settings for `server` with short timeouts and backoffs."""
    def make(**kw) -> ServerOptions:
        # generous timeouts: a loaded test machine must not turn into retries the tests count
        base = dict(base_url=server.url, model="test-model", concurrency=4, timeout_s=5.0,
                    max_retries=3, backoff_s=0.01, backoff_max_s=0.05)
        base.update(kw)
        return ServerOptions(**base)

    return make
