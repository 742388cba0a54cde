"""Model-side code: tiny models of real architectures, families, embeddings, adapters."""

ARCHS = ("qwen3", "llama", "gemma3", "m2m100")
