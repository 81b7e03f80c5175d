"""The gate's memory grows in proportion to the review: measured on synthetic copies of this review of two
sizes (benchmarks/synthetic.py), a k^2 term would make four times the studies cost sixteen times the memory."""

from __future__ import annotations

from pathlib import Path

from benchmarks.synthetic import BIB, RAW, generate
from engine.manifest import load_review
from engine.validation import validate_all
from tests.engine.test_scale import peak_memory

REPO = Path(__file__).resolve().parents[2]


def test_the_gates_memory_grows_in_proportion_to_the_review(tmp_path: Path) -> None:
    peaks = {}
    for scale in (10, 40):
        project = tmp_path / f"x{scale}"
        generate(REPO, project, scale, seed=1)
        review = load_review(REPO / "config" / "review.yaml", project / RAW, project / BIB)
        problems, peaks[scale] = peak_memory(lambda review=review: validate_all(review))
        assert problems == []
    # Four times the studies: four times the memory, give or take (a k^2 term would make it 16).
    assert peaks[40] / peaks[10] < 5.5, peaks
