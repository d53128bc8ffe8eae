"""Compile ``kernels.c`` with the system C compiler on first use, cache the library, load it with ctypes.

A plain C file and ctypes, not a torch C++ extension: it builds in about a second with no torch
headers, no ninja and no build step at install time, and it is compiled for the CPU it runs on
(``-march=native``). The library is cached under ``$GENOMIX_CACHE_DIR`` (default
``$XDG_CACHE_HOME/genomix`` or ``~/.cache/genomix``) in a file named by a hash of the source, the
compiler, its flags and the CPU, written to a temporary name and renamed, so concurrent processes never
see half a file. Next to it, ``NAME.so.sha256`` holds the hash the build recorded; a cached library is
loaded only when it still has that hash and the folder and both files belong to the user and are
writable by no one else; a library that fails the hash is rebuilt, and a folder that fails the
ownership check is not used: the library is then built in a private temporary folder, loaded and
deleted. When there is no compiler or the build fails, :func:`load` returns ``None`` and says
why once in the log; callers then use their PyTorch path.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

LOG = logging.getLogger(__name__)
SOURCE = Path(__file__).with_name("kernels.c")
HEADERS = [Path(__file__).with_name("generic.h")]
"""Files kernels.c includes (part of the cache key)."""
VERSION = 2
"""Must equal ``gx_version()`` in kernels.c."""
FLAGS = ["-O3", "-march=native", "-mprefer-vector-width=512", "-fopenmp-simd", "-fno-math-errno",
         "-fno-trapping-math", "-shared", "-fPIC"]
FALLBACK_FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-shared", "-fPIC"]
"""Used when the compiler rejects ``-march=native`` (some compilers on some CPUs)."""

_c_ptr, _i64, _f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
SIGNATURES = {
    "gx_layer_norm": [_c_ptr, _i64, _i64, _f32, _c_ptr, _c_ptr, _c_ptr],
    "gx_rotate_add": [_c_ptr, _c_ptr, _c_ptr, _c_ptr, _i64, _i64, _i64, _c_ptr],
    "gx_gather_colsum": [_c_ptr, _c_ptr, _i64, _i64, _i64, _c_ptr, _c_ptr],
    "gx_gelu_backward_colsum": [_c_ptr, _c_ptr, _i64, _i64, _c_ptr, _c_ptr],
    "gx_layer_norm_backward_add": [_c_ptr, _c_ptr, _c_ptr, _c_ptr, _c_ptr, _i64, _i64, _c_ptr],
}
SIGNATURES.update({f"{name}_f32": argtypes for name, argtypes in SIGNATURES.items()})  # float32 twins


def cache_dir() -> Path:
    """Where compiled libraries are kept."""
    if os.environ.get("GENOMIX_CACHE_DIR"):
        return Path(os.environ["GENOMIX_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "genomix"


def compiler() -> str | None:
    """The C compiler: ``$CC`` if set, else the first of cc, gcc, clang on the PATH."""
    if os.environ.get("CC"):
        return shutil.which(os.environ["CC"])
    return next((found for name in ("cc", "gcc", "clang") if (found := shutil.which(name))), None)


def _cpu_signature() -> str:
    """What ``-march=native`` depends on: the CPU's model and feature flags."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        return "\n".join(sorted({line for line in lines if line.startswith(("model name", "flags", "Features"))}))
    except OSError:
        return f"{platform.machine()} {platform.processor()}"


def library_path(cc: str) -> Path:
    """The cached library's path for this source, compiler and CPU."""
    version = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False).stdout
    sources = [path.read_text() for path in (SOURCE, *HEADERS)]
    key = hashlib.sha256("\0".join([*sources, cc, version, " ".join(FLAGS), _cpu_signature()])
                         .encode()).hexdigest()[:16]
    return cache_dir() / f"kernels-{VERSION}-{key}.so"


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def hash_path(library: Path) -> Path:
    """Where the build records ``library``'s sha256."""
    return library.with_name(library.name + ".sha256")


def _write_atomically(target: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def compile_library(cc: str, target: Path, flags: list[str]) -> None:
    """Compile kernels.c into ``target`` with ``flags`` and record its sha256 in :func:`hash_path`;
    each file appears whole or not at all, the library first.

    Raises:
        RuntimeError: the compiler failed (its last error line is in the message).
    """
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle, temporary = tempfile.mkstemp(suffix=".so.tmp", dir=target.parent)
    os.close(handle)
    try:
        result = subprocess.run([cc, *flags, "-o", temporary, str(SOURCE), "-lm"],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise RuntimeError(f"{cc} failed: {last}")
        os.chmod(temporary, 0o755)  # the linker's mode follows the umask; group-writable would fail `untrusted`
        digest = _sha256(temporary)
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    _write_atomically(hash_path(target), digest + "\n")


def untrusted(path: Path, *, kind: int) -> str | None:
    """Why ``path`` may have been written by someone else (``None``: it is the user's alone).

    ``kind`` is ``stat.S_IFDIR`` (a link to a folder is followed) or ``stat.S_IFREG`` (a link is refused).
    """
    info = os.stat(path) if kind == stat.S_IFDIR else os.lstat(path)
    if stat.S_IFMT(info.st_mode) != kind:
        return "is not a plain " + ("folder" if kind == stat.S_IFDIR else "file")
    if info.st_uid != os.getuid():
        return f"is owned by user {info.st_uid}, not {os.getuid()}"
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"is writable by others (mode {stat.S_IMODE(info.st_mode):o})"
    return None


def verified(library: Path) -> bool:
    """Whether ``library`` and its recorded hash are the user's alone and the hash still matches."""
    record = hash_path(library)
    try:
        if untrusted(library, kind=stat.S_IFREG) or untrusted(record, kind=stat.S_IFREG):
            return False
        return record.read_text().strip() == _sha256(library)
    except OSError:  # missing or unreadable: not verified, so rebuilt
        return False


def open_library(path: Path) -> ctypes.CDLL:
    """Load a compiled library and declare its functions' argument types."""
    library = ctypes.CDLL(str(path))
    if library.gx_version() != VERSION:
        raise RuntimeError(f"{path} is version {library.gx_version()}, expected {VERSION}")
    for name, argtypes in SIGNATURES.items():
        function = getattr(library, name)
        function.argtypes, function.restype = argtypes, None
    return library


def load() -> ctypes.CDLL | None:
    """The compiled kernels (building them if needed), or ``None`` with the reason logged once."""
    if os.environ.get("GENOMIX_NATIVE", "1") == "0":
        LOG.info("native kernels disabled (GENOMIX_NATIVE=0)")
        return None
    cc = compiler()
    if cc is None:
        LOG.warning("no C compiler found (set CC); genomix uses its slower PyTorch path for bf16 blocks")
        return None
    private = None
    try:
        path = library_path(cc)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        if problem := untrusted(path.parent, kind=stat.S_IFDIR):
            private = Path(tempfile.mkdtemp(prefix="genomix-native-"))  # mode 0700
            LOG.warning("not using the native-kernel cache %s: it %s; building in %s instead",
                        path.parent, problem, private)
            path = private / path.name
        if not verified(path):  # absent, tampered with, or planted without the build's hash
            try:
                compile_library(cc, path, FLAGS)
            except RuntimeError:  # e.g. a compiler that does not know -march=native here
                compile_library(cc, path, FALLBACK_FLAGS)
        return open_library(path)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        LOG.warning("native kernels unavailable (%s); genomix uses its slower PyTorch path for bf16 blocks", error)
        return None
    finally:
        if private is not None:  # the loaded library stays mapped
            shutil.rmtree(private, ignore_errors=True)
