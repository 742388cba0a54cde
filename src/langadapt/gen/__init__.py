"""Generation backends behind one interface: HF generate, vLLM, an OpenAI-compatible server.

`openai` is the server backend; its request builder and sender are shared with
`langadapt.synth`, which journals the answers.
"""
