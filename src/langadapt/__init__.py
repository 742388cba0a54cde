"""langadapt: adapt pretrained language models to low-resource languages."""

__version__ = "0.1.0"

from langadapt.errors import ConfigError, DataError, LangadaptError

__all__ = ["ConfigError", "DataError", "LangadaptError", "__version__"]
