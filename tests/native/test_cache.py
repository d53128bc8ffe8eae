"""The kernel cache loads only what its own build wrote: planted, tampered and shared files are not loaded."""

from __future__ import annotations

import logging
import os
import subprocess

import pytest
import torch

from genomix.native import build

pytestmark = pytest.mark.skipif(build.compiler() is None, reason="no C compiler: the native kernels cannot be built")

PLANT = r"""
#include <stdio.h>
__attribute__((constructor)) static void plant(void) { FILE *f = fopen("%s", "w"); if (f) fclose(f); }
int gx_version(void) { return %d; }
"""


def _layer_norm_works(library) -> None:
    x = torch.randn(3, 8)
    out = torch.empty_like(x)
    mean, rstd = torch.empty(3), torch.empty(3)
    library.gx_layer_norm_f32(x.data_ptr(), 3, 8, 1e-5, out.data_ptr(), mean.data_ptr(), rstd.data_ptr())
    torch.testing.assert_close(out, torch.nn.functional.layer_norm(x, (8,)), atol=1e-5, rtol=1e-5)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("GENOMIX_CACHE_DIR", str(folder))
    monkeypatch.delenv("GENOMIX_NATIVE", raising=False)  # these tests build and load; GENOMIX_NATIVE=0 skips loading
    return folder


def test_planted_library_is_not_loaded(tmp_path, cache):
    """A library under the predicted name whose constructor would leave a marker; no hash beside it."""
    marker, source = tmp_path / "constructor-ran", tmp_path / "plant.c"
    source.write_text(PLANT % (marker, build.VERSION))
    predicted = build.library_path(build.compiler())
    subprocess.run([build.compiler(), "-shared", "-fPIC", "-o", str(predicted), str(source)], check=True)
    library = build.load()
    assert library is not None and not marker.exists()
    _layer_norm_works(library)
    assert build.verified(predicted)  # replaced by a real build, with its hash


@pytest.mark.parametrize("tamper", ["garbage", "wrong hash", "no hash", "writable by others"])
def test_tampered_library_is_rebuilt(cache, tamper):
    library = build.library_path(build.compiler())
    build.compile_library(build.compiler(), library, build.FALLBACK_FLAGS)  # built, not loaded: dlopen would reuse it
    assert build.verified(library)
    if tamper == "garbage":
        library.write_bytes(b"\x7fELF not really a library")
    elif tamper == "wrong hash":
        build.hash_path(library).write_text("0" * 64 + "\n")
    elif tamper == "no hash":
        build.hash_path(library).unlink()
    else:
        library.chmod(0o666)
    assert not build.verified(library)
    loaded = build.load()
    assert loaded is not None
    _layer_norm_works(loaded)
    assert build.verified(library)


def test_library_built_under_a_loose_umask_is_still_trusted(cache):
    old = os.umask(0o002)
    try:
        assert build.load() is not None
    finally:
        os.umask(old)
    assert build.verified(build.library_path(build.compiler()))


def test_cache_writable_by_others_is_not_used(cache, caplog):
    cache.chmod(0o777)
    with caplog.at_level(logging.WARNING, logger=build.LOG.name):
        library = build.load()
    assert library is not None
    _layer_norm_works(library)
    assert not list(cache.iterdir())  # nothing built into, or read from, the shared folder
    assert len(caplog.records) == 1
    assert "not using the native-kernel cache" in caplog.text and "writable by others (mode 777)" in caplog.text
