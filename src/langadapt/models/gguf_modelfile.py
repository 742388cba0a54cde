"""An Ollama `Modelfile` beside a GGUF export: `ollama create NAME -f OUT.Modelfile` runs it.

Ollama writes chat templates in Go's text/template syntax, not Jinja, and no library turns
one into the other; so the known chat formats are recognised in the HF template by their
turn markers and written as Ollama's own templates for them. A template of another format
is left out (with a log line): Ollama then sends the prompt as given.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from langadapt.runs import atomic_write_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChatFormat:
    name: str
    marker: str                 # a string only this format's HF template holds
    template: str               # Go template over Ollama's .Messages
    stops: tuple[str, ...]


FORMATS = (
    ChatFormat("gemma", "<start_of_turn>",
               "{{- range .Messages }}<start_of_turn>{{ if eq .Role \"assistant\" }}model"
               "{{ else }}user{{ end }}\n{{ .Content }}<end_of_turn>\n{{ end }}<start_of_turn>model\n",
               ("<end_of_turn>",)),
    ChatFormat("chatml", "<|im_start|>",
               "{{- range .Messages }}<|im_start|>{{ .Role }}\n{{ .Content }}<|im_end|>\n"
               "{{ end }}<|im_start|>assistant\n",
               ("<|im_start|>", "<|im_end|>")),
    ChatFormat("llama3", "<|start_header_id|>",
               "{{- range .Messages }}<|start_header_id|>{{ .Role }}<|end_header_id|>\n\n"
               "{{ .Content }}<|eot_id|>{{ end }}<|start_header_id|>assistant<|end_header_id|>\n\n",
               ("<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")),
)
# generation_config.json key -> Ollama PARAMETER name
SAMPLING = {"temperature": "temperature", "top_p": "top_p", "top_k": "top_k",
            "repetition_penalty": "repeat_penalty"}


def chat_format(template: str | None) -> ChatFormat | None:
    """The known format of an HF (Jinja) chat template, or None."""
    for fmt in FORMATS:
        if template and fmt.marker in template:
            return fmt
    return None


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)   # a Go-style double-quoted string


def modelfile_text(gguf_name: str, tok, generation: dict) -> str:
    """The Modelfile of the export `gguf_name` for tokenizer `tok` and generation config `generation`."""
    lines = [f"FROM ./{gguf_name}"]
    template = getattr(tok, "chat_template", None)
    fmt = chat_format(template if isinstance(template, str) else None)
    stops: list[str] = []
    if fmt is not None:
        lines.append(f'TEMPLATE """{fmt.template}"""')
        stops += [s for s in fmt.stops if s in tok.get_vocab()]
    elif template:
        log.info("%s: the chat template is of no known format (gemma, chatml, llama3); the Modelfile has "
                 "no TEMPLATE, so Ollama sends prompts as given", gguf_name)
    else:
        log.info("%s: the tokenizer has no chat template; the Modelfile has no TEMPLATE", gguf_name)
    if tok.eos_token:
        stops.append(tok.eos_token)
    lines += [f"PARAMETER stop {_quote(s)}" for s in dict.fromkeys(stops)]
    for key, name in SAMPLING.items():
        if generation.get(key) is not None:
            lines.append(f"PARAMETER {name} {generation[key]}")
    return "\n".join(lines) + "\n"


def write_modelfile(path: str | Path, gguf_path: str | Path, folder: str | Path) -> Path:
    """Write `path` for the export `gguf_path` of the HF folder `folder` (tokenizer, generation config)."""
    from langadapt.models.loading import load_tokenizer

    folder = Path(folder)
    gen_file = folder / "generation_config.json"
    generation = json.loads(gen_file.read_text(encoding="utf-8")) if gen_file.is_file() else {}
    text = modelfile_text(Path(gguf_path).name, load_tokenizer(folder), generation)
    return atomic_write_text(path, text)
