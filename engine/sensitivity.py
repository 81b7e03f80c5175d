"""Leave-one-out analysis of the primary (GLMM) model, with each study's influence on the pooled logit.

For study i the GLMM is refitted without it; its influence is metafor's DFBETAS convention,
(mu - mu_(-i)) / SE(mu_(-i)): how many standard errors of the reduced fit the study moves the estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from engine.meta_analysis import GLMMResult, check_counts, glmm_logit

__all__ = ["LeftOut", "leave_one_out"]


@dataclass(frozen=True)
class LeftOut:
    """The GLMM without one study (``estimable`` False when the rest have all or no events)."""

    label: str
    glmm: GLMMResult
    dfbetas: float

    @property
    def estimable(self) -> bool:
        return self.glmm.estimable


def leave_one_out(events: ArrayLike, totals: ArrayLike, labels: Sequence[str], full: GLMMResult,
                  level: float = 0.95, n_nodes: int = 21) -> tuple[LeftOut, ...]:
    """One refit per study, in the order of the studies."""
    x, n = check_counts(events, totals)
    if len(labels) != x.size:
        raise ValueError("labels must have one entry per study")
    if x.size < 3:
        raise ValueError("leave-one-out needs at least three studies (two remain in each refit)")
    rows = []
    for i in range(x.size):
        keep = np.arange(x.size) != i
        reduced = glmm_logit(x[keep], n[keep], n_nodes=n_nodes, level=level)
        influence = (full.mu - reduced.mu) / reduced.se if reduced.estimable and full.estimable else float("nan")
        rows.append(LeftOut(str(labels[i]), reduced, float(influence)))
    return tuple(rows)
