"""One error family. Messages say what was wrong, where, and what to do."""

from __future__ import annotations

import re

# C0/C1 control characters and the bidirectional overrides: an untrusted string (GGUF
# metadata, a server's reply) printed raw could move the cursor, recolour the terminal or
# reorder what the reader sees, and a newline would break the one-line error.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """`text` with control characters written as escapes (`\\n`, `\\x1b`, `\\u202e`), on one line."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


class LangadaptError(Exception):
    """A user error: the CLI prints it on one line and exits 2."""


class ConfigError(LangadaptError):
    """A bad configuration value, located by file, line and key where known."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None):
        self.file, self.line, self.key = file, line, key
        where = ""
        if file:
            where = f"{file}:{line}: " if line else f"{file}: "
        if key:
            where += f"key '{key}': "
        super().__init__(where + message)


class DataError(LangadaptError):
    """Missing or malformed input data, located by file (and line where known)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None):
        self.file, self.line = file, line
        where = f"{file}:{line}: " if (file and line) else (f"{file}: " if file else "")
        super().__init__(where + message)


class NotBuiltError(LangadaptError):
    """A stage that this version of langadapt does not provide yet."""
