"""Prompt text for translation requests: language names, chat messages from a template."""

from __future__ import annotations

from langadapt.errors import ConfigError
from langadapt.languages import language_name


def _fill(template: str, what: str, **values: str) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(f"prompt template has an unknown or malformed field ({e}); use "
                          "{src}, {tgt}, {glossary} and {text}, and double literal braces",
                          key=f"prompt.{what}") from None


def build_messages(template, text: str, src: str, tgt: str) -> list[dict]:
    """Chat messages asking to translate `text` (system, few-shot pairs, then the text).

    Args:
        template: a `langadapt.gen.options.PromptTemplate`.
    """
    s, t = language_name(src), language_name(tgt)
    glossary = ""
    if template.glossary:
        terms = "; ".join(f"{a} → {b}" for a, b in sorted(template.glossary.items()))
        glossary = f" Use these translations of terms: {terms}."
    values = dict(src=s, tgt=t, glossary=glossary)
    messages = [{"role": "system", "content": _fill(template.system, "system", **values, text="")}] \
        if template.system else []
    for a, b in template.few_shot:
        messages += [{"role": "user", "content": _fill(template.user, "user", **values, text=a)},
                     {"role": "assistant", "content": b}]
    # the text is substituted last and never formatted itself, so its braces go in verbatim
    messages.append({"role": "user", "content": _fill(template.user, "user", **values, text="\0")
                     .replace("\0", text)})
    return messages
