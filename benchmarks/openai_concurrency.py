"""Requests in flight vs one at a time through `--backend openai`, on a slow local server.

Starts the test suite's OpenAI-compatible server (tests/fake_openai_server.py) on
127.0.0.1, answering every request after `--latency-s`, and translates the same N lines
(the first N English FLORES dev lines) to Mongolian with `translate_file_openai`, the
function behind `langadapt translate --backend openai`: once with concurrency 1
(baseline) and once with `--concurrency`, each into a fresh folder so no answer journal is
reused. Checks that the two outputs are byte-identical and prints JSON lines
`{"name", "value", "unit", "baseline", "ratio"}`; exits 1 if the outputs differ.

    python benchmarks/openai_concurrency.py --n 64 --concurrency 16 --latency-s 0.2
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # fake_openai_server.py

from fake_openai_server import FakeServer  # noqa: E402

from langadapt.gen.options import ServerOptions  # noqa: E402
from langadapt.paths import data_root  # noqa: E402
from langadapt.synth.run import translate_file_openai  # noqa: E402


def run_once(server: FakeServer, inp: Path, folder: Path, concurrency: int, args) -> dict:
    """Translate `inp` into `folder/out.txt` at `concurrency`; return timing and counts."""
    opts = ServerOptions(base_url=server.url, model="bench-model", concurrency=concurrency,
                         timeout_s=args.timeout_s)
    folder.mkdir(parents=True)
    asked_before = len(server.texts())
    start = time.perf_counter()
    rows = translate_file_openai(opts, inp, folder / "out.txt", src=args.src, tgt=args.tgt)
    seconds = time.perf_counter() - start
    by_metric = {r.metric: r.value for r in rows}
    return {"seconds": seconds, "bytes": (folder / "out.txt").read_bytes(),
            "server_requests": len(server.texts()) - asked_before,
            "retries": by_metric["translate.retries"], "kept": by_metric["translate.kept"],
            "errors": next(r.extra["errors"] for r in rows if r.metric == "translate.retries")}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=64, help="first N FLORES dev lines")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency-s", type=float, default=0.2, help="the server's delay before each answer")
    ap.add_argument("--timeout-s", type=float, default=30.0, help="per request")
    ap.add_argument("--backlog", type=int, default=128,
                    help="the server socket's listen backlog (5 is http.server's own)")
    ap.add_argument("--src", default="eng_Latn")
    ap.add_argument("--tgt", default="khk_Cyrl")
    args = ap.parse_args()
    # one INFO line per HTTP request is the client library's, not the benchmark's
    logging.getLogger("httpx").setLevel(logging.WARNING)

    lines = (data_root() / "flores" / f"{args.src}.dev.txt").read_text(encoding="utf-8").splitlines()
    lines = lines[: args.n]
    n = len(lines)
    with tempfile.TemporaryDirectory() as tmp, FakeServer(delay_s=args.latency_s) as server:
        # http.server listens with a backlog of 5: 16 clients connecting at once overflow it and
        # see reset connections (retried after a backoff). Real servers (vLLM's uvicorn, llama.cpp)
        # queue hundreds, so give the socket a real server's backlog; Linux applies a second listen().
        server.httpd.socket.listen(args.backlog)
        inp = Path(tmp) / "source.txt"
        inp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        one = run_once(server, inp, Path(tmp) / "c1", 1, args)
        many = run_once(server, inp, Path(tmp) / f"c{args.concurrency}", args.concurrency, args)
        max_in_flight = server.max_in_flight  # over both runs: the concurrent one's peak
    identical = one["bytes"] == many["bytes"]
    rate_one, rate_many = n / one["seconds"], n / many["seconds"]
    tag = f"{args.src}-{args.tgt}.n{n}.latency{args.latency_s:g}s"
    rows = [
        {"name": f"openai.records_per_s.c1.{tag}", "value": rate_one, "unit": "records/s",
         "baseline": rate_one, "ratio": 1.0, "requests": one["server_requests"],
         "retries": one["retries"], "errors": one["errors"], "kept": one["kept"]},
        {"name": f"openai.records_per_s.c{args.concurrency}.{tag}", "value": rate_many,
         "unit": "records/s", "baseline": rate_one, "ratio": rate_many / rate_one,
         "requests": many["server_requests"], "retries": many["retries"], "errors": many["errors"],
         "kept": many["kept"],
         "max_in_flight": max_in_flight},
        {"name": f"openai.identical_output.c1_vs_c{args.concurrency}.{tag}", "value": int(identical),
         "unit": "bool", "baseline": 1, "ratio": float(identical)},
    ]
    for r in rows:
        print(json.dumps(r))
    if not identical:
        print(f"outputs differ between concurrency 1 and {args.concurrency}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
