"""The Django-free serving library: vLLM client, concurrent chat, launcher, bundled model.

It takes plain paths and dataclasses so the supervisor and benchmarks run without the web app;
tests/serving/test_isolation.py keeps it free of Django.
"""
