"""The course's in-kernel server: replay recordings, record them, pass live calls through (stdlib only)."""
