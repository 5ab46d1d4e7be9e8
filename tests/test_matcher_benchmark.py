"""The matching benchmark runs (tiny sizes) and prints one row per size and corpus."""

from __future__ import annotations

import pytest

from benchmarks import match as bench


def test_benchmark_prints_rates_and_ratios(capsys: pytest.CaptureFixture[str]) -> None:
    bench.main(["--articles", "6", "--repeats", "1", "--naive-articles", "2", "--sizes", "60"])
    out = capsys.readouterr().out
    rows = [line.split() for line in out.splitlines() if line.startswith("    60 ")]
    assert [row[1] for row in rows] == ["English", "Russian", "En-dense", "Ru-dense"]
    for row in rows:
        assert float(row[2].replace(",", "")) > 0  # match() articles per second
        assert row[5].endswith("x")  # ratio to the naive loop


def test_generated_watchlists_have_the_asked_number_of_terms() -> None:
    import random

    watchlists = bench.make_watchlists(1000, random.Random(1))
    assert sum(len(w.keywords) for w in watchlists) == 1000
    assert len(bench.naive_patterns(watchlists)) == 1000
