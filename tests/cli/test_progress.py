"""The build commands' counting bar: no bar with quiet, and no bar left open when the library call fails."""

from __future__ import annotations

import pytest
from tqdm import tqdm

from genomix.cli._progress import progress_counter


def test_quiet_gives_no_callback():
    with progress_counter(True, unit="bp", desc="reading") as update:
        assert update is None


def test_the_bar_counts_and_closes_even_on_an_error(capsys):
    with pytest.raises(ValueError, match="bad input"):
        with progress_counter(False, unit="bp", desc="reading") as update:
            update(1_500)
            assert [bar.n for bar in tqdm._instances] == [1_500]
            raise ValueError("bad input")
    assert len(tqdm._instances) == 0
    assert "reading" in capsys.readouterr().err
