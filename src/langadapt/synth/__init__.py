"""Synthetic data through an OpenAI-compatible chat-completions server.

One setting (`base_url` + `model`) reaches a hosted API, `vllm serve`, a llama.cpp
server or Ollama. Requests are built and sent by the server backend (`langadapt.gen`:
`openai`, with its `options`, `prompt`, `protect` and `client`); here `gates` judges what
comes back, `journal` stores each answer as it arrives (in the one resumable engine,
`langadapt.resume`), `backtranslate` scores answers by a round trip, and `run` ties them
to resumable file translation (`translate_file_openai`).
"""
