"""Benchmark tasks as data: a YAML file names the format, prompt template, metrics and version.

    name: belebele_khk
    version: 1
    format: belebele            # a registered loader: belebele | mmeval | numeric
    data: ${data}/belebele/khk_Cyrl.jsonl
    prompt: "P: {passage}\\nQ: {question}\\n{choices}\\nAnswer:"
    choice_line: "{letter}: {text}"   # how {choices} lists the options in the prompt
    choice: " {letter}"               # the continuation scored for each option

Loaders turn a file of a benchmark's real format into `Item`s; a new format is one
`@register_format` function. Bundled task files live beside this module
(`belebele_khk`, `mmeval_khk`, `numeric_khk`); `load_task` takes a bundled name or a path.
"""

from __future__ import annotations

import string
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import Field, PrivateAttr

from langadapt.config import StrictModel, load_config
from langadapt.errors import ConfigError, DataError
from langadapt.registry import Registry
from langadapt.textio import json_objects

TASKS_DIR = Path(__file__).parent


@dataclass
class Item:
    """One question: text fields for the prompt, answer options, and the gold answer."""

    id: str
    fields: dict[str, str]
    choices: list[str] = field(default_factory=list)
    letters: list[str] = field(default_factory=list)
    gold: int | str = 0           # index into choices, or the answer text (numeric mode)


class Task(StrictModel):
    """A task file's schema."""

    name: str
    version: int | str
    format: str
    data: str | None = None                      # file in the format; `--data` overrides
    lang: str = "khk_Cyrl"                       # language of the questions
    mode: Literal["loglik", "generate"] = "loglik"
    prompt: str
    choice_line: str = "{letter}. {text}"
    choice: str = " {text}"
    max_new_tokens: int = Field(16, ge=1)        # generate mode
    description: str = ""
    _file: str | None = PrivateAttr(None)        # where the task was read from (for errors)

    @property
    def file(self) -> str | None:
        return self._file

    def render(self, item: Item) -> str:
        """The prompt of one item (`{choices}` is the list of options, one per line)."""
        lines = "\n".join(self.choice_line.format(letter=a, text=t) for a, t in zip(item.letters,
                                                                                   item.choices))
        return _format(self.prompt, {**item.fields, "choices": lines}, self.file, "prompt")

    def continuations(self, item: Item) -> list[str]:
        """The text scored after the prompt for each option."""
        return [_format(self.choice, {"letter": a, "text": t}, self.file, "choice")
                for a, t in zip(item.letters, item.choices)]


def _format(template: str, values: dict, file: str | None, key: str) -> str:
    try:
        return template.format_map(values)
    except KeyError as e:
        raise ConfigError(f"template names field {e} the data does not have; have: "
                          f"{', '.join(sorted(values))}", file=file, key=key) from None


Loader = Callable[[Path], list[Item]]
FORMATS: Registry[Loader] = Registry("format", key="format")


def register_format(name: str) -> Callable[[Loader], Loader]:
    """Decorator: register `fn(path) -> items` as task format `name`."""
    return FORMATS.register(name)


def bundled_tasks() -> list[str]:
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def load_task(name_or_path: str | Path, overrides: list[str] | None = None) -> Task:
    """A bundled task by name (`belebele_khk`) or a task YAML file."""
    path = Path(name_or_path)
    if not path.suffix and not path.exists():
        path = TASKS_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise ConfigError(f"unknown task '{name_or_path}'; bundled: {', '.join(bundled_tasks())}, "
                              "or give a task .yaml file", key="task")
    task = load_config(Task, path, overrides)
    task._file = str(path)
    if task.format not in FORMATS:
        raise ConfigError(f"unknown format '{task.format}'; known: {', '.join(sorted(FORMATS))}",
                          file=str(path), key="format")
    return task


def load_items(task: Task, data: str | Path | None = None, limit: int | None = None) -> list[Item]:
    """Read the task's data file (or `data`) with the task's format loader."""
    from langadapt.paths import expand

    raw = str(data) if data is not None else task.data
    if not raw:
        raise ConfigError("the task names no data file; pass one (--data FILE)", file=task.file, key="data")
    path = Path(expand(raw))
    if not path.is_file():
        raise DataError("task data file not found", file=str(path))
    items = FORMATS.get(task.format)(path)
    if not items:
        raise DataError("no items in the task data", file=str(path))
    return items[:limit] if limit else items


def _records(path: Path):
    """(line number, dict) for each JSON line of a file (blank lines skipped)."""
    with open(path, encoding="utf-8-sig") as f:
        yield from json_objects(f, path)


def _need(rec: dict, keys: tuple[str, ...], path: Path, n: int) -> None:
    missing = [k for k in keys if k not in rec]
    if missing:
        raise DataError(f"record lacks {', '.join(missing)}", file=str(path), line=n)


@register_format("belebele")
def load_belebele(path: Path) -> list[Item]:
    """Belebele JSONL: flores_passage, question, mc_answer1..4, correct_answer_num ("1".."4")."""
    keys = ("flores_passage", "question", "mc_answer1", "mc_answer2", "mc_answer3", "mc_answer4",
            "correct_answer_num")
    items = []
    for n, rec in _records(path):
        _need(rec, keys, path, n)
        gold = str(rec["correct_answer_num"]).strip()
        if gold not in {"1", "2", "3", "4"}:
            raise DataError(f"correct_answer_num must be 1-4, got {gold!r}", file=str(path), line=n)
        items.append(Item(
            id=f"{rec.get('link', '')}#{rec.get('question_number', n)}",
            fields={"passage": rec["flores_passage"], "question": rec["question"].strip()},
            choices=[str(rec[f"mc_answer{i}"]) for i in range(1, 5)], letters=list("ABCD"),
            gold=int(gold) - 1))
    return items


@register_format("mmeval")
def load_mmeval(path: Path) -> list[Item]:
    """MM-Eval style JSONL: {question, choices: {A: ..., B: ...}, answer: "A"} (+ optional id)."""
    items = []
    for n, rec in _records(path):
        _need(rec, ("question", "choices", "answer"), path, n)
        choices = rec["choices"]
        if isinstance(choices, list):  # a list is lettered A, B, C, ...
            choices = dict(zip(string.ascii_uppercase, choices))
        if not isinstance(choices, dict) or len(choices) < 2:
            raise DataError("choices must map letters to at least two answers", file=str(path), line=n)
        letters = [str(k) for k in choices]
        answer = str(rec["answer"]).strip()
        if answer not in letters:
            raise DataError(f"answer {answer!r} is not one of {', '.join(letters)}", file=str(path), line=n)
        items.append(Item(id=str(rec.get("id", n)), fields={"question": str(rec["question"])},
                          choices=[str(v) for v in choices.values()], letters=letters,
                          gold=letters.index(answer)))
    return items


@register_format("numeric")
def load_numeric(path: Path) -> list[Item]:
    """Numeric-answer JSONL: {question, answer} (GSM8K-style `... #### 42` answers accepted)."""
    items = []
    for n, rec in _records(path):
        _need(rec, ("question", "answer"), path, n)
        answer = str(rec["answer"])
        answer = answer.rsplit("####", 1)[-1].strip()
        items.append(Item(id=str(rec.get("id", n)), fields={"question": str(rec["question"])},
                          gold=answer))
    return items
