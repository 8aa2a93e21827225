"""Files that hold callers' numbers and names are the service user's alone: created 0600.

Every writer of such a file (the SQLite database, the open-call journal, the spool, the admin audit trail,
config edits, IVR versions, reports and exports written by the CLI) goes through these helpers, which
create the file with mode 0600 whatever the umask and narrow an older, wider file to 0600 when they touch it.
(docs/security.md, "File permissions"; tests/test_security_files.py.)
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o600
_FLAGS = {"w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC, "a": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
          "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL}


def open_private(path: str | os.PathLike[str], mode: str = "w", **kwargs: Any) -> IO[Any]:
    """`open(path, mode)` for writing ("w", "a", "x", with "b" for bytes), the file 0600."""
    kind = mode.replace("b", "").replace("t", "")
    if kind not in _FLAGS:
        raise ValueError(f"open_private writes only: mode {mode!r}")
    fd = os.open(path, _FLAGS[kind], PRIVATE_MODE)
    try:
        narrow(fd)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | os.PathLike[str], data: str | bytes, *, atomic: bool = False) -> None:
    """Write `data` (text as UTF-8) to a 0600 file; `atomic`: through `<path>.tmp` and a rename."""
    target = Path(path)
    out = target.with_name(target.name + ".tmp") if atomic else target
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with open_private(out, "wb") as fh:
        fh.write(raw)
    if atomic:
        os.replace(out, target)


def narrow(file: int | str | os.PathLike[str]) -> None:
    """Take group and other permissions off an open file (descriptor) or an existing path."""
    mode = os.fstat(file).st_mode if isinstance(file, int) else os.stat(file).st_mode
    if stat.S_IMODE(mode) & 0o077:
        if isinstance(file, int):
            os.fchmod(file, stat.S_IMODE(mode) & 0o700)
        else:
            os.chmod(file, stat.S_IMODE(mode) & 0o700)


def private_sqlite(database: str | None) -> None:
    """Make an SQLite database file (and its journals) 0600 before SQLAlchemy opens it; None or ':memory:'
    does nothing. SQLite gives its -wal, -shm and -journal files the database file's mode."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, PRIVATE_MODE))
    for each in (path, *(path.with_name(path.name + s) for s in ("-wal", "-shm", "-journal"))):
        if each.exists():
            narrow(each)
