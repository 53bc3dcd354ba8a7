"""Rebuild tiktoken's encoding files from the npm ``tiktoken`` package, exactly.

Usage: python scripts/build_tiktoken_files.py [tiktoken-1.0.22.tgz]
Without an argument it runs ``npm pack tiktoken@1.0.22``. Writes data/tiktoken/<name>.tiktoken.xz
and checks each file's sha256 against the hash tiktoken itself expects.
"""

from __future__ import annotations

import hashlib
import json
import lzma
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from helpers.kernel.tokens import ENCODINGS, SHIPPED

NPM_PACKAGE = "tiktoken@1.0.22"


def rebuild(bpe_ranks: str) -> bytes:
    """npm stores ranks as lines '! <first rank> tok tok ...'; tiktoken wants 'tok rank' per line."""
    out: list[str] = []
    for line in filter(None, bpe_ranks.split("\n")):
        marker, start, *tokens = line.split(" ")
        if marker != "!":
            raise ValueError(f"unexpected line start {marker!r}")
        out.extend(f"{token} {int(start) + i}\n" for i, token in enumerate(tokens))
    return "".join(out).encode()


def main(tgz: str | None = None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if tgz is None:
            subprocess.run(["npm", "pack", NPM_PACKAGE, "--pack-destination", tmp], check=True, capture_output=True)
            tgz = str(next(Path(tmp).glob("tiktoken-*.tgz")))
        SHIPPED.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tgz) as archive:
            for name, sha256 in ENCODINGS.items():
                member = archive.extractfile(f"package/encoders/{name}.json")
                if member is None:
                    raise SystemExit(f"{tgz} has no package/encoders/{name}.json")
                data = rebuild(json.load(member)["bpe_ranks"])
                if hashlib.sha256(data).hexdigest() != sha256:
                    raise SystemExit(f"{name}: rebuilt file does not match tiktoken's sha256")
                (SHIPPED / f"{name}.tiktoken.xz").write_bytes(lzma.compress(data, preset=9 | lzma.PRESET_EXTREME))
                print(f"{name}: {len(data):,} bytes, sha256 ok")


if __name__ == "__main__":
    main(*sys.argv[1:])
