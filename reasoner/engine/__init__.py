"""The engine wing: the `Generator` protocol (`generation`), its vLLM and OpenAI-compatible backends
(`backends`), where models come from (`models`), the engine loop (`runtime`) and the hardware probe.

Nothing here knows about strategies, jobs or results. Import the modules by path.
"""
