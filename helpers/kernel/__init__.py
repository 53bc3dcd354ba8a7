"""The kernel machinery behind ``helpers.setup()``: what a lesson runs on, not what it imports.

``helpers.session`` (setup and the session), the course server in ``helpers.replay``, and here the meter of usage
and cost. Learners use the thin modules on top (``helpers.usage``, ``helpers.simulate``).
"""
