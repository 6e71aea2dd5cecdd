"""Crash-safe files for stores that several processes write at once: atomic publication, orphan cleanup.

A file is published by writing a hidden temporary ``.<stem>.<host>.<pid>.<random>.tmp`` beside
its target, fsyncing it, moving it into place in one step (``os.link``, which never replaces an
existing file, or ``os.replace``), and fsyncing the folder. A reader that lists only the target
names sees a whole file or none. A writer killed mid-write leaves its temporary behind;
:func:`orphaned` tells such a temporary from one a live writer is filling. No torch here.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
from pathlib import Path
from typing import Any

from ..artifacts import _plain

__all__ = ["HOST", "TMP_MAX_AGE", "pid_alive", "publish_json", "orphaned", "read_json_object"]

HOST = socket.gethostname()
TMP_MAX_AGE = 600.0  # seconds after which any temporary is an orphan (a live write takes milliseconds)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (a zombie does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):  # not every platform opens folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_synced(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def publish_json(obj: Any, path: str | os.PathLike, replace: bool) -> bool:
    """Write ``obj`` as indented JSON to ``path`` atomically (see the module doc).

    Numpy values become plain numbers and non-finite floats ``null``. With ``replace`` an existing
    file is replaced; without, it is kept and the call returns False (of two writers, the first
    wins; on a filesystem without hard links the exists check and the move are two steps).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.stem}.{HOST}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    try:
        _write_synced(tmp, (json.dumps(_plain(obj), indent=2) + "\n").encode())
        if replace:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
            except OSError:
                if path.exists():
                    return False
                os.replace(tmp, path)
        _fsync_dir(path.parent)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def orphaned(tmp: Path, now: float, max_age: float = TMP_MAX_AGE) -> bool:
    """Whether the temporary ``tmp`` has no live writer: its writer on this host is dead, or it is old.

    A temporary of another host, or one not named by :func:`publish_json`, is judged by its age alone.
    """
    try:
        if now - tmp.stat().st_mtime > max_age:
            return True
    except FileNotFoundError:
        return False
    parts = tmp.name[1:-4].split(".")  # stem, host (may hold dots), pid, random
    if len(parts) < 4 or not parts[-2].isdigit() or ".".join(parts[1:-2]) != HOST:
        return False
    pid = int(parts[-2])
    return pid != os.getpid() and not pid_alive(pid)


def read_json_object(path: Path) -> dict | None:
    """The JSON object in ``path``; None when the file is gone or holds no JSON object."""
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return obj if isinstance(obj, dict) else None
