"""Test-wide settings. Notebook kernels started by nbval inherit this environment."""

import os

# Tests and nbval always replay, instantly, whatever the developer's .env says.
os.environ["COURSE_BACKEND"] = "replay"
os.environ["COURSE_REPLAY_SPEED"] = "0"
os.environ.pop("OPENAI_BASE_URL", None)
