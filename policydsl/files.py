"""Writing output files: whole or not at all, with the permissions any other program would give them."""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


def umask_mode() -> int:
    """The mode a program gives a new file: 0666 less the process's umask (0644 under umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


@contextlib.contextmanager
def atomic_output(target: Path, *, keep_mode: bool = False) -> Iterator[IO[bytes]]:
    """A binary stream whose bytes replace `target` only when the block ends without an exception,
    so that a reader never sees half a file and a failed run leaves the old file as it was.

    The temporary file sits beside the target (a rename within one folder is atomic) and gets the
    umask's mode before the rename: `mkstemp` alone would leave every output at 0600.  With
    `keep_mode`, an existing target keeps its own mode (a file rewritten in place, as `fmt` does).
    A symbolic link is written through, not replaced by a file."""
    target = Path(os.path.realpath(target)) if target.is_symlink() else target
    mode = umask_mode()
    if keep_mode:
        with contextlib.suppress(OSError):
            mode = stat.S_IMODE(target.stat().st_mode)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".partial", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            yield out
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def write_atomically(target: Path, data: bytes | str, *, keep_mode: bool = False) -> None:
    """Write `data` (text is written as UTF-8, line breaks as given) to `target` atomically."""
    with atomic_output(target, keep_mode=keep_mode) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def spooled_stdin(suffix: str) -> Iterator[Path]:
    """Standard input copied into a temporary file ending in `suffix`, for readers that take a path
    and read it more than once (a batch with quotas is read twice); removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="policydsl-stdin.") as folder:
        path = Path(folder) / f"stdin{suffix}"
        with path.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out)
        yield path
