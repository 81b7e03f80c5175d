"""Outputs written whole or not at all.

A job stopped while it writes (Ctrl-C, ``kill -9``, a full disk) would leave a truncated file at its output
path, such as half an SVG, which looks like an output until someone opens it. Each output is written to a
hidden file beside it (``.<name>.<pid>.<random>.partial``) and renamed over the output path once complete:
a rename within a folder is atomic, so the path holds the previous file or the new one, never part of one.
A partial file left by a killed job is removed by the next build (engine/build_guard.py).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL_SUFFIX = ".partial"


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A fresh path beside ``path`` to write to; it replaces ``path`` when the block ends without an error."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{PARTIAL_SUFFIX}")
    # Created here, with the permissions the umask gives any new file (tempfile would make it private).
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    try:
        yield partial
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as partial:
        partial.write_bytes(data)


def write_text(path: Path, text: str) -> None:
    """``text`` as UTF-8, line endings as given (no translation)."""
    write_bytes(path, text.encode("utf-8"))
