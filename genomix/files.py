"""Output files that appear complete or not at all.

Every file genomix writes (datasets, checkpoints, JSON, predictions, VCF) is written to a hidden
temporary file beside its target and renamed over it when complete. This module names, creates and
cleans up those temporary files in one way:

- the name says who wrote it: ``.{target}.{host}-{pid}-{random}.tmp``, so a later write to the same
  target removes what a killed writer left behind (a process on this host that no longer runs);
- it is created with mode ``0o666`` less the umask, like any file a user makes (``mkstemp`` would make
  it ``0600`` and a shared lab folder could not read the result);
- on any exception (``KeyboardInterrupt`` and ``ENOSPC`` included) it is removed and the old target,
  if any, stays as it was.

It also holds :func:`file_sha256`, the checksum that dataset provenance and exported model folders
record of a file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

SUFFIX = ".tmp"


def _host() -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "host"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_stale_temporaries(target: str | os.PathLike) -> list[Path]:
    """Remove the temporary files of ``target`` left by writers on this host that no longer run.

    Returns:
        The files removed (each is logged).
    """
    target = Path(target)
    prefix = f".{target.name}.{_host()}-"
    removed = []
    try:
        names = os.listdir(target.parent)
    except OSError:
        return removed
    for name in names:
        if not (name.startswith(prefix) and name.endswith(SUFFIX)):
            continue
        pid_text = name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
            continue
        path = target.parent / name
        with contextlib.suppress(FileNotFoundError):
            size = path.stat().st_size
            path.unlink()
            removed.append(path)
            logger.info("removed %s (%s bytes) left by an interrupted write of %s", path, f"{size:,}", target)
    return removed


def create_temporary(target: str | os.PathLike) -> tuple[int, Path]:
    """Create the temporary file for ``target`` (mode 0o666 less the umask), after removing stale ones.

    Returns:
        ``(descriptor, path)``: an open, writable descriptor and the file's path.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(target)
    while True:
        path = target.parent / f".{target.name}.{_host()}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), path
        except FileExistsError:  # pragma: no cover - 32 random bits collided
            continue


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it over ``target`` when the block ends cleanly.

    The temporary file exists (empty) when the block starts; the block may reopen or replace it. On
    any exception the temporary file is removed, ``target`` is left as it was, and the exception
    propagates.
    """
    descriptor, temporary = create_temporary(target)
    os.close(descriptor)
    try:
        yield temporary
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def atomic_open(target: str | os.PathLike, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside ``target`` for writing; rename it over ``target`` when done.

    The data is flushed and ``fsync``-ed before the rename, so a full disk shows here (``ENOSPC``),
    never as a short file at ``target``.
    """
    if not mode.startswith("w"):
        raise ValueError(f"atomic_open writes new files; mode must start with 'w', got {mode!r}")
    descriptor, temporary = create_temporary(target)
    try:
        with os.fdopen(descriptor, mode, **kwargs) as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def file_sha256(path: str | os.PathLike) -> str:
    """The SHA-256 of a file, as hex (read in 1 MiB blocks: any size in bounded memory)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_disk_full(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) says the disk or quota is full."""
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(error):
            return True
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def disk_full_at(path: str | os.PathLike) -> bool:
    """Whether the file system of ``path``'s folder has no block left (``False`` when it cannot be asked).

    Some writers (torch's, zlib's on close) report a full disk without ``ENOSPC``; the file system tells.
    """
    try:
        return os.statvfs(Path(path).parent).f_bavail == 0
    except OSError:
        return False


def write_failure_reason(error: OSError, *, path: str | os.PathLike | None = None) -> str:
    """Why a write failed, for an error message: ``no space left on device`` when the disk or quota is full
    (:func:`is_disk_full`, or :func:`disk_full_at` ``path`` when given), else the system's words."""
    if is_disk_full(error) or (path is not None and disk_full_at(path)):
        return "no space left on device"
    return error.strerror or str(error)


PARTIAL = ".partial"


@contextlib.contextmanager
def atomic_directory(target: str | os.PathLike, *, replace: bool = False) -> Iterator[Path]:
    """Yield a hidden folder beside ``target`` to fill; rename it to ``target`` when the block ends cleanly.

    A folder (an exported model) appears complete or not at all, as files do with :func:`atomic_open`:
    on any exception the partial folder is removed and ``target`` is left as it was. Folders left by a
    killed writer on this host (``.{target}.{host}-{pid}-*.partial``) are removed first.

    Args:
        target: the folder to create. It may exist only as an empty folder, or (``replace=True``) a
            folder whose content is then replaced: moved aside, the new one renamed in, the old one removed.

    Raises:
        FileExistsError: ``target`` is a file, or a non-empty folder without ``replace``.
    """
    import shutil

    target = Path(target)
    if target.exists() and not target.is_dir():
        raise FileExistsError(errno.EEXIST, f"{target} exists and is a file, not a folder", str(target))
    if target.is_dir() and any(target.iterdir()) and not replace:
        raise FileExistsError(errno.ENOTEMPTY, f"{target} exists and is not empty", str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{target.name}.{_host()}-"
    for name in os.listdir(target.parent):  # left by a killed writer on this host
        pid_text = name[len(prefix):].split("-", 1)[0]
        if name.startswith(prefix) and name.endswith(PARTIAL) and pid_text.isdigit() and not _alive(int(pid_text)):
            shutil.rmtree(target.parent / name, ignore_errors=True)
            logger.info("removed %s left by an interrupted write of %s", target.parent / name, target)
    partial = target.parent / f"{prefix}{os.getpid()}-{secrets.token_hex(4)}{PARTIAL}"
    partial.mkdir(mode=0o777)
    try:
        yield partial
        if target.is_dir() and any(target.iterdir()):
            old = partial.with_name(partial.name[:-len(PARTIAL)] + ".old")
            os.replace(target, old)
            os.replace(partial, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(partial, target)  # over an empty folder, or none
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
