"""Writing a file whole: a temporary file beside it takes its place only once it is written."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replaced(path: Path, prefix: str = ".", suffix: str = ".tmp") -> Iterator[Path]:
    """A temporary file beside `path` for the block to write. When the block ends without an error the
    file replaces `path` whole, so a reader never sees half of it; otherwise it is removed and `path`
    stays as it was."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=prefix, suffix=suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
