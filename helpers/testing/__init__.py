"""Test doubles and load tests for the course's servers, shared by the tests and ``scripts/bench.py``.

``fake_upstream.FakeUpstream`` is a stand-in OpenAI API (stdlib); ``load.hammer`` sends a bounded burst of requests.
Nothing a lesson runs imports this package (an import contract in pyproject.toml checks it).
"""
