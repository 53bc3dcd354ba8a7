"""The course's optional local backend: an OpenAI-compatible server of real small models, offline.

Start it with ``make local-backend`` (http://127.0.0.1:8011/v1). See local_backend/README.md.
"""

from .app import DEFAULT_PORT, Backend

__all__ = ["DEFAULT_PORT", "Backend"]
