"""MotifChange: against a loop over every placement that overlaps the change, both strands; strand symmetry,
batch invariance, and the log-odds matrices."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genomix.models.motifs import MAX_INDEL, MotifChange, first_difference, log_odds

COMPLEMENT = {1: 4, 2: 3, 3: 2, 4: 1}  # A C G T tokens


def _scanner(matrices: torch.Tensor, site_bits: float = 2.0) -> MotifChange:
    scanner = MotifChange(matrices.shape[0], matrices.shape[2], site_bits=site_bits)
    scanner.set_matrices(matrices)
    return scanner


def _random_matrices(count: int, widths: list[int], seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    return log_odds([rng.integers(0, 20, (4, width)).astype(float) for width in widths[:count]])


def _score(window: list[int], start: int, kernel: np.ndarray) -> float:
    """One placement's score; bases outside A C G T (and outside the window) score 0."""
    total = 0.0
    for column in range(kernel.shape[1]):
        position = start + column
        if 0 <= position < len(window) and 1 <= window[position] <= 4:
            total += kernel[window[position] - 1, column]
    return total


def _best(window: list[int], lo: int, hi: int, kernel: np.ndarray) -> float:
    """Best score over placements starting in [lo, hi] (the kernel's padded width), either strand."""
    reverse = kernel[::-1, ::-1]
    return max(max(_score(window, s, kernel), _score(window, s, reverse)) for s in range(lo, hi + 1))


def _loop_change(ref: list[int], alt: list[int], matrices: np.ndarray, site_bits: float) -> np.ndarray:
    width = matrices.shape[2]
    shorter = min(len(ref), len(alt))
    position = next((i for i in range(shorter) if ref[i] != alt[i]), shorter)
    if ref == alt:
        return np.zeros(len(matrices))
    out = np.zeros(len(matrices))
    for m, kernel in enumerate(matrices):
        extra_ref = min(max(len(ref) - len(alt), 0), MAX_INDEL)
        extra_alt = min(max(len(alt) - len(ref), 0), MAX_INDEL)
        r = _best(ref, position - width + 1, position + extra_ref, kernel)
        a = _best(alt, position - width + 1, position + extra_alt, kernel)
        out[m] = a - r if max(r, a) > site_bits else 0.0
    return out


def _pairs(seed: int, n: int = 12):
    """Random windows and variants of them: SNVs, deletions, insertions, N bases, changes at the edges."""
    rng = np.random.default_rng(seed)
    pairs = []
    for i in range(n):
        ref = list(rng.integers(1, 5, int(rng.integers(8, 40))))
        if i % 5 == 0:
            ref[int(rng.integers(len(ref)))] = 5  # an N
        alt = list(ref)
        kind, at = i % 4, int(rng.integers(len(ref)))
        if kind == 0:
            alt[at] = int(1 + (alt[at] % 4))
        elif kind == 1:
            del alt[at:at + int(rng.integers(1, 4))]
        elif kind == 2:
            alt[at:at] = list(rng.integers(1, 5, int(rng.integers(1, 4))))
        elif i % 8 == 3:
            alt = list(ref)  # identical: no change
        else:
            alt[0] = int(1 + (alt[0] % 4))
        pairs.append((ref, alt))
    return pairs


def _tensors(pairs):
    ref = torch.tensor([b for r, _ in pairs for b in r])
    alt = torch.tensor([b for _, a in pairs for b in a])
    return ref, torch.tensor([len(r) for r, _ in pairs]), alt, torch.tensor([len(a) for _, a in pairs])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_equals_a_loop_over_placements(seed):
    matrices = _random_matrices(3, [3, 5, 7], seed=seed)
    pairs = _pairs(seed)
    out = _scanner(matrices)(*_tensors(pairs))
    expected = np.stack([_loop_change(r, a, matrices.numpy(), 2.0) for r, a in pairs])
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-5)
    assert (out != 0).any()  # the comparison is not of zeros only


def test_same_change_on_either_strand():
    matrices = _random_matrices(3, [4, 6, 6], seed=3)
    scanner = _scanner(matrices)
    rng = np.random.default_rng(3)
    pairs = []
    for _ in range(10):
        ref = list(rng.integers(1, 5, 30))
        alt = list(ref)
        alt[int(rng.integers(30))] = int(rng.integers(1, 5))
        pairs.append((ref, alt))
    flipped = [([COMPLEMENT[b] for b in r[::-1]], [COMPLEMENT[b] for b in a[::-1]]) for r, a in pairs]
    torch.testing.assert_close(scanner(*_tensors(pairs)), scanner(*_tensors(flipped)), atol=1e-5, rtol=0)


def test_batch_invariance_across_chunks():
    matrices = _random_matrices(2, [5, 8], seed=4)
    scanner = _scanner(matrices)
    pairs = _pairs(5, n=300)  # more windows than one matrix product scores
    together = scanner(*_tensors(pairs))
    alone = torch.cat([scanner(*_tensors([pair])) for pair in pairs[:20]])
    torch.testing.assert_close(together[:20], alone, atol=1e-5, rtol=0)


def test_destroying_a_site_is_negative_and_far_changes_are_zero():
    consensus = [3, 1, 4, 1, 1, 3]  # GATAAG
    counts = np.zeros((4, 6))
    counts[np.array(consensus) - 1, np.arange(6)] = 50
    scanner = _scanner(log_odds([counts]), site_bits=6.0)
    background = [2] * 40
    ref = background[:10] + consensus + background[16:]
    broken = list(ref)
    broken[12] = 2  # inside the site
    far = list(ref)
    far[35] = 4  # 19 bases from the site: no placement reaches both
    out = scanner(*_tensors([(ref, broken), (broken, ref), (ref, far)]))[:, 0]
    assert out[0] < -6 and out[1] > 6 and out[0] == -out[1] and out[2] == 0


def test_first_difference():
    pairs = [([1, 2, 3, 4], [1, 2, 4, 4]), ([1, 2, 3, 4], [1, 2, 3]), ([1, 2], [1, 2, 2]), ([1, 2], [1, 2])]
    position, changed = first_difference(*_tensors(pairs))
    assert position.tolist() == [2, 3, 2, 2] and changed.tolist() == [True, True, True, False]


def test_log_odds():
    counts = np.array([[8.0, 2.0], [0.0, 2.0], [0.0, 2.0], [0.0, 2.0]])
    out = log_odds([counts, counts[:, :1]], pseudocount=0.0)
    assert out.shape == (2, 4, 2)
    assert out[0, 0, 0] == 2.0 and torch.isinf(out[0, 1, 0]) and torch.all(out[0, :, 1] == 0)  # uniform: 0 bits
    assert torch.all(out[1, :, 1] == 0)  # padding
    assert torch.isfinite(log_odds([counts])).all()  # the default pseudocount keeps every score finite
    with pytest.raises(ValueError, match=r"\(4, width\)"):
        log_odds([np.ones((3, 5))])
    with pytest.raises(ValueError, match="at least one"):
        log_odds([])


def test_matrices_are_checked_and_saved():
    scanner = MotifChange(2, 4)
    with pytest.raises(ValueError, match="shape"):
        scanner.set_matrices(torch.zeros(2, 4, 5))
    matrices = _random_matrices(2, [4, 3])
    scanner.set_matrices(matrices)
    other = MotifChange(2, 4)
    other.load_state_dict(scanner.state_dict())
    torch.testing.assert_close(other.matrices, matrices)
