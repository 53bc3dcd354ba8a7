"""Offline tiktoken: the exact encoding files, served through tiktoken's own cache.

tiktoken downloads ``<name>.tiktoken`` once and caches it as ``$TIKTOKEN_CACHE_DIR/<sha1(url)>``,
checking its sha256. The course ships the four files (xz-compressed, rebuilt from the npm
``tiktoken`` package by ``scripts/build_tiktoken_files.py``) and unpacks them into that cache, so
``tiktoken.encoding_for_model("gpt-4o-mini")`` works with no network.
"""

from __future__ import annotations

import hashlib
import lzma
import os
from pathlib import Path

from ..paths import CACHE, DATA

SOURCE_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# sha256 of each file, as tiktoken_ext/openai_public.py expects it.
ENCODINGS = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "p50k_base": "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069",
    "r50k_base": "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930",
}
SHIPPED = DATA / "tiktoken"


def cache_name(name: str) -> str:
    """The file name tiktoken looks for in its cache: sha1 of the download URL."""
    return hashlib.sha1(SOURCE_URL.format(name=name).encode()).hexdigest()


def use_offline_encodings(cache_dir: Path | None = None) -> Path:
    """Unpack the shipped encodings (once, verified by sha256) and point tiktoken at them."""
    cache_dir = Path(cache_dir or os.environ.get("TIKTOKEN_CACHE_DIR") or CACHE / "tiktoken")
    cache_dir.mkdir(parents=True, exist_ok=True)
    for name, sha256 in ENCODINGS.items():
        target = cache_dir / cache_name(name)
        if target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == sha256:
            continue
        packed = SHIPPED / f"{name}.tiktoken.xz"
        if not packed.exists():
            continue  # tiktoken will try the network for this one, as it normally does
        data = lzma.decompress(packed.read_bytes())
        if hashlib.sha256(data).hexdigest() != sha256:
            raise ValueError(f"{packed} does not unpack to the expected {name} file (sha256 mismatch)")
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    os.environ["TIKTOKEN_CACHE_DIR"] = str(cache_dir)
    return cache_dir
