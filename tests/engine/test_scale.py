"""Memory grows linearly with the studies: the pooling of 100,000 studies and the gate of a growing review.

A review of 100,000 studies (benchmarks/synthetic.py --scale 5883) once asked the inverse-variance pooling
for a 100,011 x 100,011 matrix (74.5 GiB). The pooling is checked at that size against the closed forms of
the common-effect and DerSimonian-Laird estimators for one mean (written out here, independent of the
engine's meta-regression form), and its peak memory is bounded. The gate's memory, measured on synthetic
copies of this repository's review, is checked in tests/review/test_scale_gate.py.
"""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from engine.meta_analysis import logit_transform, pool, pool_proportions, subgroup_test

REPO = Path(__file__).resolve().parents[2]
STUDIES = 100_000


def peak_memory(work) -> tuple[object, int]:
    """``work()``'s result and the peak of memory it allocated (bytes, numpy's arrays included)."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.fixture(scope="module")
def counts() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(16)
    totals = rng.integers(1, 150, STUDIES)
    return rng.binomial(totals, rng.uniform(0.3, 0.9, STUDIES)), totals


def test_pooling_100000_studies_takes_memory_in_proportion(counts) -> None:
    events, totals = counts
    effects = logit_transform(events, totals)
    result, peak = peak_memory(lambda: pool(effects, method="DL"))
    # The inputs as float64 arrays are 0.8 MB each; a k x k matrix would be 80 GB.
    assert peak < 100 * 2**20, f"peak {peak / 2**20:.0f} MiB"

    y, v = np.asarray(effects.yi), np.asarray(effects.vi)
    w = 1 / v
    common = np.sum(w * y) / np.sum(w)
    q = np.sum(w * (y - common) ** 2)
    tau2 = max(0.0, (q - (STUDIES - 1)) / (np.sum(w) - np.sum(w**2) / np.sum(w)))  # DerSimonian & Laird 1986
    w_re = 1 / (v + tau2)
    assert result.tau2 == pytest.approx(tau2, rel=1e-9)
    assert result.estimate == pytest.approx(np.sum(w_re * y) / np.sum(w_re), rel=1e-12)
    assert result.se == pytest.approx(np.sqrt(1 / np.sum(w_re)), rel=1e-12)
    assert pool(effects, method="EE").estimate == pytest.approx(common, rel=1e-12)


def test_reml_and_the_common_tau2_subgroup_test_run_at_100000_studies(counts) -> None:
    events, totals = counts
    result, peak = peak_memory(lambda: pool_proportions(events, totals, "PFT", "REML"))
    assert peak < 100 * 2**20 and result.tau2 > 0
    groups = [study % 3 for study in range(STUDIES)]
    test, peak = peak_memory(lambda: subgroup_test(events, totals, groups, "PLO", "REML", "common"))
    assert peak < 200 * 2**20 and test.df == 2
