"""Generation backends behind one interface: HF generate, vLLM, an OpenAI-compatible server.

`openai` is the server backend: `options` holds the server settings, `prompt` builds the
messages, `protect` shields code, URLs and placeholders from the translator, `client`
sends requests with bounded concurrency and counted retries. Its request builder and
sender are shared with `langadapt.synth`, which journals and judges the answers.
"""
