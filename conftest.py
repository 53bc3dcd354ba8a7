"""Test-wide settings. Notebook kernels started by nbval inherit this environment."""

import os
import re
from pathlib import Path

# Tests and nbval always replay, instantly, whatever the developer's .env says.
os.environ["COURSE_BACKEND"] = "replay"
os.environ["COURSE_REPLAY_SPEED"] = "0"
os.environ.pop("OPENAI_BASE_URL", None)
# ... and a request missing from a recording fails, even with a local backend running (no fallback to it):
# a stale recording must not pass. Tests of the fallback turn it on for themselves.
os.environ["COURSE_FALLBACK"] = "0"


def _has_avx512() -> bool:
    try:
        return bool(re.search(r"\bavx512f\b", Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")))
    except OSError:
        return False


# numpy picks its SIMD kernels when it is imported. On a CPU with AVX-512 some results (np.exp, sums) differ in the
# last bit from the AVX2 ones the stored outputs were made with, and nbval compares plotly's float arrays byte for
# byte; so kernels use the AVX2 kernels everywhere.
if _has_avx512():
    os.environ.setdefault("NPY_DISABLE_CPU_FEATURES", "X86_V4 AVX512_ICL")
