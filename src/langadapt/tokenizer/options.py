"""Options of `tokenizer extend` and its sweep: one definition for the library functions, the
recipe stages and the command-line flags. Imports no tokenizer library (the command line reads it).
"""

from __future__ import annotations

from pydantic import Field

from langadapt.config import StrictModel

CHECK_LINES = 5000  # the default of `check_lines` below and of the functions that take it
MIN_COUNT = 2       # the default of `min_count` below and of the functions that take it


class CheckOptions(StrictModel):
    """How much of the corpus checks an extension (ids kept, new tokens reachable, round trip)."""

    check_lines: int = Field(CHECK_LINES, ge=0, description="corpus lines sampled for the round-trip "
                                                            "checks (of each size, in a sweep)")


class ExtendOptions(CheckOptions):
    """How merges are learned for one extension."""

    min_count: int = Field(MIN_COUNT, ge=1, description="a pair becomes a new token only when it "
                                                        "occurs at least this often")
