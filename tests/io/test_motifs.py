"""Motif sources: JASPAR through pyjaspar, motif files through Biopython, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from genomix.errors import ConfigError
from genomix.io.motifs import load_motifs

JASPAR_FILE = """>MA0001.1 TEST1
A  [ 10  0  0  5 ]
C  [  0 10  0  5 ]
G  [  0  0 10  0 ]
T  [  0  0  0  0 ]
>MA0002.1 TEST2
A  [ 1  2  3 ]
C  [ 3  2  1 ]
G  [ 0  1  0 ]
T  [ 6  5  6 ]
"""


def test_jaspar_vertebrates_and_another_group():
    vertebrates = load_motifs("jaspar")
    assert len(vertebrates) > 500 and "vertebrates" in vertebrates.source
    assert all(counts.shape[0] == 4 and counts.shape[1] >= 1 and (counts >= 0).all() for counts in vertebrates.counts)
    assert len(set(vertebrates.names)) == len(vertebrates)  # every motif named once
    plants = load_motifs("jaspar:plants")
    assert "plants" in plants.source and set(plants.names).isdisjoint(vertebrates.names)


def test_a_jaspar_file(tmp_path):
    path = tmp_path / "two.jaspar"
    path.write_text(JASPAR_FILE)
    motifs = load_motifs(str(path))
    assert motifs.names == ("MA0001.1 TEST1", "MA0002.1 TEST2")
    np.testing.assert_array_equal(motifs.counts[0], [[10, 0, 0, 5], [0, 10, 0, 5], [0, 0, 10, 0], [0, 0, 0, 0]])
    assert motifs.counts[1].shape == (4, 3)


@pytest.mark.parametrize("source, message", [
    ("jaspar:mammals", "unknown JASPAR group"),
    ("motifs.txt", "known suffix"),
    ("missing.jaspar", "no such file"),
])
def test_bad_sources(source, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=message):
        load_motifs(source)


def test_an_empty_or_broken_file(tmp_path):
    empty = tmp_path / "empty.jaspar"
    empty.write_text("")
    with pytest.raises(ConfigError, match="no motifs"):
        load_motifs(str(empty))
    broken = tmp_path / "broken.jaspar"
    broken.write_text(">MA1\nA [ 1 2 ]\nC [ 1 ]\n")
    with pytest.raises(ConfigError, match="broken.jaspar'?: (not a readable|the file holds no)"):
        load_motifs(str(broken))
