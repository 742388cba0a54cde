"""A small OpenAI-compatible chat-completions server for tests, with fault injection.

Its "translation" of the last user message is deterministic: every Latin word becomes
a Mongolian word chosen by a hash of the word (so language ID says Mongolian), and
everything else (digits, punctuation, markdown, protection markers, whitespace) is kept.
A text it gave as an answer before is "translated back" to the text it came from, so a
round trip (back-translation) returns the source exactly.

Faults, applied in order of arrival (`script`) or to every request whose text contains a
substring (`always`): `429` (with Retry-After), `500`, `400`, `401`, `slow` (answers after `slow_s`),
`malformed` (a 200 whose body is not JSON), `length` (finish_reason length), `drop`
(connection closed without an answer), `empty`, `refusal`, `copy` (the source back),
`english` (a fixed English sentence), `strip_markers` (protection markers left out).
Hostile or broken servers: `redirect_301|302|307|308` (to `redirect_to`, e.g. a second
server's URL, which counts its `hits`), `drip` (a valid answer sent one byte every `drip_s`
after `drip_bytes` of leading whitespace), `content_number`, `content_list`, `content_null`,
`no_message` (a choice without `message`), `html` (a 200 HTML page), `usage_strings` (token
counts as strings), `echo_key` (the answer repeats the request's bearer key).

Run alone (`python tests/fake_openai_server.py [--delay S]`) it prints its port and serves
until killed; the tests start it in a thread with `FakeServer()`.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

WORDS = ("сайн", "өдөр", "хүн", "монгол", "улс", "үг", "бичиг", "хэл", "гэр", "ус", "мөрөн", "тэнгэр",
         "ном", "сургууль", "багш", "оюутан", "ажил", "төрөл", "үүрэг", "хөгжил", "шинэ", "хуучин",
         "их", "бага", "өндөр", "нам", "сар", "жил", "цаг", "зам", "хот", "аймаг", "сум", "нутаг",
         "мал", "адуу", "үхэр", "хонь", "ямаа", "тэмээ", "өвөл", "зун", "хавар", "намар", "гал",
         "мод", "чулуу", "уул", "тал", "говь", "нүүдэл", "өрх", "гэрэл", "сүү", "цай", "хоол",
         "үзүүлэлт", "тооцоо", "дүн", "асуулт", "хариулт", "жишээ", "тайлбар", "мэдээ", "өгүүлбэр")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
REFUSAL = "I'm sorry, but I can't help with that request."


def translate(text: str) -> str:
    """The server's deterministic "Mongolian" for `text`."""
    def word(m: re.Match) -> str:
        w = WORDS[int(hashlib.md5(m.group(0).lower().encode()).hexdigest(), 16) % len(WORDS)]
        return w.capitalize() if m.group(0)[0].isupper() else w

    return _LATIN_WORD.sub(word, text)


class FakeServer:
    """The server in a daemon thread on 127.0.0.1 (a free port); a context manager."""

    def __init__(self, *, delay_s: float = 0.0, slow_s: float = 2.0, retry_after: str = "0.2"):
        self.delay_s, self.slow_s, self.retry_after = delay_s, slow_s, retry_after
        self.redirect_to = ""                 # base URL the redirect faults point at
        self.drip_s, self.drip_bytes = 0.5, 10
        self.hits = 0                         # HTTP requests received, any method or path
        self.script: list[str] = []           # faults for the next requests, in arrival order
        self.always: dict[str, str] = {}      # text substring -> fault on every such request
        self.log: list[dict] = []             # every request: {text, fault, time, auth, body}
        self.produced: dict[str, str] = {}    # answer given -> the text it translated
        self.lock = threading.Lock()
        self.in_flight = self.max_in_flight = 0  # requests being answered at once
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def texts(self) -> list[str]:
        """The last user message of every request received, in arrival order."""
        with self.lock:
            return [r["text"] for r in self.log]

    def _fault_for(self, text: str) -> str | None:
        with self.lock:
            for sub, fault in self.always.items():
                if sub in text:
                    return fault
            return self.script.pop(0) if self.script else None


def _handler(server: FakeServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            try:
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on this answer (a refused redirect, its deadline): expected

        def do_GET(self) -> None:  # noqa: N802 (a 301/302 turns a POST into a GET)
            with server.lock:
                server.hits += 1
            self._send(405, b'{"error": {"message": "use POST"}}')

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            with server.lock:
                server.hits += 1
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if self.path != "/v1/chat/completions":
                return self._send(404, b'{"error": {"message": "not found"}}')
            text = [m for m in body["messages"] if m["role"] == "user"][-1]["content"]
            fault = server._fault_for(text)
            with server.lock:
                server.log.append({"text": text, "fault": fault, "time": time.monotonic(),
                                   "auth": self.headers.get("Authorization"), "body": body})
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                return self._answer(text, body, fault)
            finally:
                with server.lock:
                    server.in_flight -= 1

        def _answer(self, text: str, body: dict, fault: str | None) -> None:
            if server.delay_s:
                time.sleep(server.delay_s)
            if fault == "429":
                return self._send(429, b'{"error": {"message": "slow down"}}',
                                  {"Retry-After": server.retry_after})
            if fault in ("400", "401"):
                return self._send(int(fault), b'{"error": {"message": "refused"}}')
            if fault == "500":
                return self._send(500, b'{"error": {"message": "boom"}}')
            if fault == "drop":
                self.close_connection = True
                self.connection.close()
                return None
            if fault == "malformed":
                return self._send(200, b'{"id": "x", "choices": [')
            if fault and fault.startswith("redirect_"):
                return self._send(int(fault.removeprefix("redirect_")), b"",
                                  {"Location": f"{server.redirect_to}/chat/completions"})
            if fault == "html":
                page = b"<!doctype html><html><body><h1>Welcome to nginx!</h1></body></html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)
                return None
            if fault == "slow":
                time.sleep(server.slow_s)
            with server.lock:
                answer = server.produced.get(text)
                if answer is None:
                    answer = translate(text)
                    server.produced.setdefault(answer, text)
            finish = "stop"
            if fault == "length":
                answer, finish = answer[: len(answer) // 2], "length"
            elif fault == "empty":
                answer = ""
            elif fault == "refusal":
                answer = REFUSAL
            elif fault == "copy":
                answer = text
            elif fault == "english":
                answer = "This answer came back in English instead of the target language."
            elif fault == "strip_markers":
                answer = re.sub(r"⟦\d+⟧", "", answer)
            elif fault == "echo_key":
                answer = f"{answer} {self.headers.get('Authorization', '').removeprefix('Bearer ')}"
            prompt_tokens = sum(len(m["content"].split()) for m in body["messages"])
            reply = {"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                     "model": body["model"],
                     "choices": [{"index": 0, "finish_reason": finish,
                                  "message": {"role": "assistant", "content": answer}}],
                     "usage": {"prompt_tokens": prompt_tokens,
                               "completion_tokens": len(answer.split()),
                               "total_tokens": prompt_tokens + len(answer.split())}}
            _spoil(reply, fault)
            try:
                data = json.dumps(reply, ensure_ascii=False).encode()
                if fault == "drip":
                    return self._drip(b" " * server.drip_bytes + data)
                self._send(200, data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                pass
            return None

        def _drip(self, data: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                if i < server.drip_bytes:  # the leading whitespace drips; the answer follows at once
                    time.sleep(server.drip_s)

    return Handler


def _spoil(reply: dict, fault: str | None) -> None:
    """Break a well-formed reply the way `fault` says (the malformed-answer faults)."""
    message = reply["choices"][0]["message"]
    if fault == "content_number":
        message["content"] = 42
    elif fault == "content_list":
        message["content"] = [message["content"]]
    elif fault == "content_null":
        message["content"] = None
    elif fault == "no_message":
        del reply["choices"][0]["message"]
    elif fault == "usage_strings":
        reply["usage"] = {k: str(v) for k, v in reply["usage"].items()}


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.0)
    a = ap.parse_args()
    with FakeServer(delay_s=a.delay) as s:
        print(s.url, flush=True)
        s.thread.join()
