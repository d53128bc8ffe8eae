"""Compile ``kernels.c`` with the system C compiler on first use, cache the library, load it with ctypes.

A plain C file and ctypes, not a torch C++ extension: it builds in about a second with no torch
headers, no ninja and no build step at install time, and it is compiled for the CPU it runs on
(``-march=native``). The library is cached under ``$GENOMIX_CACHE_DIR`` (default
``$XDG_CACHE_HOME/genomix`` or ``~/.cache/genomix``) in a file named by a hash of the source, the
compiler, its flags and the CPU, written to a temporary name and renamed, so concurrent processes never
see half a file. When there is no compiler or the build fails, :func:`load` returns ``None`` and says
why once in the log; callers then use their PyTorch path.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shutil
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


def compile_library(cc: str, target: Path, flags: list[str]) -> None:
    """Compile kernels.c into ``target`` with ``flags``; the file appears whole or not at all.

    Raises:
        RuntimeError: the compiler failed (its last error line is in the message).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".so.tmp", dir=target.parent)
    os.close(handle)
    try:
        result = subprocess.run([cc, *flags, "-o", temporary, str(SOURCE), "-lm"],
                                capture_output=True, text=True, check=False)
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or [f"exit status {result.returncode}"])[-1]
            raise RuntimeError(f"{cc} failed: {last}")
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


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
    try:
        path = library_path(cc)
        if not path.exists():
            try:
                compile_library(cc, path, FLAGS)
            except RuntimeError:  # e.g. a compiler that does not know -march=native here
                compile_library(cc, path, FALLBACK_FLAGS)
        return open_library(path)
    except (OSError, RuntimeError, subprocess.SubprocessError) as error:
        LOG.warning("native kernels unavailable (%s); genomix uses its slower PyTorch path for bf16 blocks", error)
        return None
