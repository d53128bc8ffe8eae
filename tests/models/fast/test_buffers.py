"""The CPU buffer pool: a buffer is handed out again only when nothing else references it."""

from __future__ import annotations

import threading

import pytest
import torch

import genomix.models.fast.buffers as buffers
from genomix.models.fast.buffers import BufferPool


@pytest.fixture
def pool(monkeypatch) -> BufferPool:
    monkeypatch.setattr(buffers, "MIN_BYTES", 0)
    return BufferPool()


def test_a_released_buffer_is_reused(pool):
    first = pool.empty((100, 4), torch.bfloat16)
    pointer = first.data_ptr()
    del first
    again = pool.empty((4, 100), torch.bfloat16)  # same element count, any shape
    assert again.data_ptr() == pointer and again.shape == (4, 100)
    assert pool.held_bytes() == 800


def test_a_buffer_in_use_is_never_handed_out(pool):
    held = pool.empty((50,), torch.float32)
    view = held[10:]
    del held
    other = pool.empty((50,), torch.float32)
    assert other.data_ptr() != view.data_ptr() - 40
    assert pool.held_bytes() == 400
    del view, other
    assert pool.empty((50,), torch.float32) is not None and pool.held_bytes() == 400


def test_a_buffer_saved_by_autograd_stays_taken_until_the_graph_is_freed(pool):
    weight = torch.randn(64, requires_grad=True)
    saved = pool.empty((64,), torch.float32)
    saved.copy_(torch.randn(64))
    expected = saved.clone()
    product = (weight * saved).sum()  # autograd keeps `saved` for the weight's gradient
    pointer = saved.data_ptr()
    del saved
    overwritten = pool.empty((64,), torch.float32)
    assert overwritten.data_ptr() != pointer
    overwritten.fill_(0.0)
    product.backward()
    torch.testing.assert_close(weight.grad, expected)
    del product, overwritten
    pool.empty((64,), torch.float32)
    assert pool.held_bytes() == 2 * 64 * 4  # one of the two reused, nothing new allocated


def test_idle_buffers_are_released(pool, monkeypatch):
    monkeypatch.setattr(buffers, "MAX_IDLE", 3)
    pool.empty((1000,), torch.float32)  # released at once: free from here on
    for _ in range(4):
        pool.empty((7,), torch.float32)
    assert (torch.float32, 1000) not in pool._buffers
    assert pool.held_bytes() == 28


def test_release_free_keeps_only_the_buffers_in_use(pool):
    kept = pool.empty((1 << 20,), torch.float32)
    pool.empty((1 << 20,), torch.float32)  # dropped at once: free
    assert pool.held_bytes() == 2 * (4 << 20)
    pool.release_free()
    assert pool.held_bytes() == 4 << 20
    assert pool.empty((1 << 20,), torch.float32).data_ptr() != kept.data_ptr()


def test_dtype_is_part_of_the_key(pool):
    a = pool.empty((8,), torch.float32)
    b = pool.empty((8,), torch.int32)
    del a
    c = pool.empty((8,), torch.int32)  # the free float32 buffer does not serve it
    assert c.dtype == torch.int32 and c.data_ptr() != b.data_ptr()
    assert set(pool._buffers) == {(torch.int32, 8)}


def test_a_new_size_releases_the_free_buffers_of_other_sizes(pool):
    """Megabase training meets a new length every step: the pool holds one step's buffers, not all."""
    kept = pool.empty((300,), torch.float32)
    for length in (100, 101, 102, 103):
        pool.empty((length,), torch.float32)  # dropped at once: free
    assert pool.held_bytes() == (300 + 103) * 4
    del kept


def test_threads_never_share_a_buffer(pool):
    pointers, lock = [], threading.Lock()
    keep = []

    def take():
        tensor = pool.empty((256,), torch.float32)
        with lock:
            pointers.append(tensor.data_ptr())
            keep.append(tensor)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(pointers)) == 8


def test_small_and_non_cpu_requests_bypass_the_pool():
    before = buffers.POOL.held_bytes()
    small = buffers.empty_like(torch.empty(10))
    assert small.shape == (10,) and buffers.POOL.held_bytes() == before


def test_malloc_tuning_respects_opt_outs(monkeypatch):
    monkeypatch.setenv("GENOMIX_TUNE_MALLOC", "0")
    assert buffers.tune_malloc() is False
    monkeypatch.delenv("GENOMIX_TUNE_MALLOC")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1000000")
    assert buffers.tune_malloc() is False


def test_malloc_tuning_applies_on_glibc(monkeypatch):
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt tuning is glibc-only")
    for name in ("GENOMIX_TUNE_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES"):
        monkeypatch.delenv(name, raising=False)
    assert buffers.tune_malloc() is True
