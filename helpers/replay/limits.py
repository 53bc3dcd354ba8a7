"""Upload size limits, checked before a request leaves the notebook, with a message saying what to do."""

from __future__ import annotations

import re

from .interaction import StoredRequest, uploaded_files

MIB = 1024 * 1024
MB = 1000 * 1000
# (path pattern, form field, limit in bytes, where the limit is documented, what to do instead)
UPLOAD_LIMITS = [
    (r"/v1/audio/(transcriptions|translations)", "file", 25 * MIB, "the Audio API's 25 MiB upload limit",
     "split the audio into shorter parts, or compress it (e.g. mono MP3 or Opus)"),
    (r"/v1/images/edits", "image", 50 * MB, "the image edit limit of 50 MB per image",
     "resize or re-encode the image"),
    (r"/v1/images/edits", "mask", 4 * MB, "the 4 MB limit for masks", "save the mask as a smaller PNG"),
    (r"/v1/files", "file", 512 * MB, "the Files API's 512 MB limit per file",
     "split the file, or use the Uploads API for large files"),
]


def upload_problem(request: StoredRequest) -> str | None:
    """Why an upload is too large for its endpoint, or None."""
    files = uploaded_files(request)
    path = request["path"].split("?")[0]
    for pattern, field, limit, rule, advice in UPLOAD_LIMITS:
        if not re.fullmatch(pattern, path):
            continue
        for item in files.get(field, []):
            if item["size"] > limit:
                return (f"{item.get('filename') or field} is {item['size'] / MIB:.1f} MiB, over {rule}; "
                        f"nothing was sent. To fix it: {advice}.")
    return None
