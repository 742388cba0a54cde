"""Tokenizers: extend a base BPE tokenizer, trim its vocabulary, train one, measure fertility.

See docs/tokenizer.md for the folder contracts (`new_tokens.jsonl`, `id_map.json`).
"""
