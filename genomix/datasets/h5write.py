"""Writing an HDF5 file so that a full disk or a Ctrl-C ends in one clear line and leaves nothing behind.

Two things go wrong when HDF5 itself meets an error half-way through a file:

- a failed write (``ENOSPC``) surfaces inside h5py's object destructors, prints hundreds of traceback
  lines and can crash the interpreter (a segmentation fault) when the file is closed;
- a ``KeyboardInterrupt`` raised while h5py runs a weakref callback is printed and swallowed, so the
  build goes on and replaces ``--out`` as if nothing happened.

So HDF5 never sees an error: it writes through :class:`GuardedFile`, a Python file object that records
the first write error and, from then on, drops writes; Ctrl-C and SIGTERM only set a flag while the
file is written (:func:`deferred_interrupts`). Writers call :meth:`GuardedFile.check` between arrays
and slices, which stops the write at once; :func:`hdf5_output` then closes the (now worthless)
temporary file, removes it and raises the recorded error: :class:`~genomix.errors.OutputError` for a
full disk, ``KeyboardInterrupt`` for Ctrl-C. The old target, if any, is untouched.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import h5py
import numpy as np

from genomix.errors import OutputError
from genomix.files import atomic_path

SLICE_BYTES = 64 << 20  # an interrupt is noticed at least once per 64 MiB written


class _Stopped(Exception):
    """Raised by :meth:`GuardedFile.check` to leave the ``with h5py.File`` block early."""


class _Interrupts:
    """Signals received while a file was being written (set by :func:`deferred_interrupts`)."""

    def __init__(self) -> None:
        self.received: int | None = None


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[_Interrupts]:
    """Within the block, SIGINT and SIGTERM only record themselves; the previous handlers come back on exit.

    Outside the main thread (where handlers cannot be set) the block runs unchanged.
    """
    interrupts = _Interrupts()
    if threading.current_thread() is not threading.main_thread():
        yield interrupts
        return

    def record(signum, frame) -> None:
        interrupts.received = signum

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[signum] = signal.signal(signum, record)
        except (ValueError, OSError):  # pragma: no cover - not settable here
            pass
    try:
        yield interrupts
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _open_raw(path: str | os.PathLike):
    """The unbuffered file HDF5's bytes go to (a seam for fault-injection tests)."""
    return open(path, "w+b", buffering=0)


class GuardedFile:
    """A binary file for h5py's ``fileobj`` driver that never lets a write error reach HDF5.

    The first ``OSError`` of a write (or an interrupt noticed during one) is recorded in
    :attr:`failure`; later writes are dropped (they report success), so HDF5 finishes its bookkeeping
    quietly and the caller raises the recorded failure afterwards.
    """

    def __init__(self, path: str | os.PathLike, interrupts: _Interrupts) -> None:
        self.raw = _open_raw(path)
        self.interrupts = interrupts
        self.failure: BaseException | None = None

    def write(self, data) -> int:
        size = memoryview(data).nbytes
        if self.failure is None and self.interrupts.received is not None:
            self.failure = KeyboardInterrupt()
        if self.failure is not None:
            return size
        try:
            view = memoryview(data).cast("B")
            while view:
                written = self.raw.write(view)
                if not written:
                    raise OSError(errno.EIO, "the file accepted no bytes")
                view = view[written:]
        except OSError as error:
            self.failure = error
        return size

    def flush(self) -> None:
        if self.failure is None:
            try:
                self.raw.flush()
            except OSError as error:
                self.failure = error

    def truncate(self, size: int | None = None) -> int:
        if self.failure is None:
            try:
                return self.raw.truncate(size)
            except OSError as error:
                self.failure = error
        return size if size is not None else self.raw.tell()

    def __getattr__(self, name: str):  # read, readinto, seek, tell, ...
        return getattr(self.raw, name)

    def check(self) -> None:
        """Stop the write (raise) when a write failed or an interrupt arrived."""
        if self.failure is None and self.interrupts.received is not None:
            self.failure = KeyboardInterrupt()
        if self.failure is not None:
            raise _Stopped

    def finish(self) -> None:
        """``fsync`` the data (a full disk may only show here) and close the file."""
        if self.failure is None:
            try:
                os.fsync(self.raw.fileno())
            except OSError as error:
                self.failure = error
        self.raw.close()


@contextlib.contextmanager
def hdf5_output(target: str | os.PathLike, *,
                verify: Callable[[Path], None] | None = None) -> Iterator[tuple[h5py.File, GuardedFile]]:
    """Yield ``(handle, guard)`` for a new HDF5 file that replaces ``target`` only when complete.

    ``verify``, if given, is called with the complete temporary file before the rename.

    Write large arrays with :func:`write_array` (or call ``guard.check()`` between pieces of work) so
    that a full disk or Ctrl-C stops the write promptly.

    Raises:
        OutputError: the disk (or quota) is full, or the file cannot be written; nothing is left at
            ``target`` (an old file there stays as it was).
        KeyboardInterrupt: Ctrl-C (or SIGTERM) arrived during the write; likewise nothing is left.
    """
    target = Path(target)
    with atomic_path(target) as temporary, deferred_interrupts() as interrupts:
        guard = GuardedFile(temporary, interrupts)
        try:
            try:
                with h5py.File(guard, "w") as handle:
                    yield handle, guard
                    guard.check()
            except _Stopped:
                pass
        finally:
            guard.finish()
        if interrupts.received is not None and guard.failure is None:
            guard.failure = KeyboardInterrupt()
        _raise_failure(guard.failure, target, temporary)
        if verify is not None:
            verify(temporary)


def _raise_failure(failure: BaseException | None, target: Path, temporary: Path) -> None:
    if failure is None:
        return
    if isinstance(failure, KeyboardInterrupt):
        raise KeyboardInterrupt
    if isinstance(failure, OSError) and failure.errno in (errno.ENOSPC, errno.EDQUOT):
        try:  # the partial file is removed on the way out: count its bytes as free
            partial = temporary.stat().st_size
            disk = os.statvfs(target.parent)
            free = f" ({partial / 1e6:,.1f} MB written before it filled; {(disk.f_bavail * disk.f_frsize + partial) / 1e6:,.1f} MB free)"
        except OSError:
            free = ""
        raise OutputError(failure.errno, f"cannot write {target}: no space left on device{free}; "
                                         f"nothing was written (free some space or choose another --out)",
                          str(target)) from None
    raise OutputError(getattr(failure, "errno", None) or errno.EIO,
                      f"cannot write {target}: {getattr(failure, 'strerror', None) or failure}; nothing was written",
                      str(target)) from None


def write_array(group: h5py.Group, name: str, array: np.ndarray, guard: GuardedFile, *,
                chunks: tuple[int, ...] | None = None, **options) -> h5py.Dataset:
    """Create ``group[name]`` from ``array``, written in chunk-aligned slices of about 64 MiB.

    Between slices ``guard.check()`` stops the write on a full disk or an interrupt.
    """
    guard.check()
    if chunks is None or array.nbytes <= SLICE_BYTES:
        dataset = group.create_dataset(name, data=array, chunks=chunks, **options)
        guard.check()
        return dataset
    dataset = group.create_dataset(name, shape=array.shape, dtype=array.dtype, chunks=chunks, **options)
    row_bytes = max(1, array.itemsize * int(np.prod(array.shape[1:])))
    rows = max(chunks[0], SLICE_BYTES // row_bytes // chunks[0] * chunks[0])
    for start in range(0, len(array), rows):
        dataset[start:start + rows] = array[start:start + rows]
        guard.check()
    return dataset
