"""Synthetic data through an OpenAI-compatible chat-completions server.

One setting (`base_url` + `model`) reaches a hosted API, `vllm serve`, a llama.cpp
server or Ollama. `options` holds the typed settings, `prompt` builds the messages,
`protect` shields code, URLs and placeholders from the translator, `client` sends
requests with bounded concurrency and counted retries, `gates` judges what comes back,
`journal` stores each answer as it arrives, and `run` ties them to resumable file
translation (`translate_file_openai`). Requests are built and sent by the server backend,
`langadapt.gen.openai`.
"""
