"""The kernel machinery behind ``helpers.setup()``: what a lesson runs on, not what it imports.

Here: the offline tiktoken files (``tokens``) and the meter of usage and cost (``meter``). The rest of the machinery is
``helpers.session`` (setup and the session) and the course server, ``helpers.replay``. Learners use the thin modules
on top (``helpers.usage``, ``helpers.simulate``).
"""
