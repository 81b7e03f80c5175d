"""Calibrated heterogeneity and uncertainty for pooled single proportions.

``engine/meta_analysis.py`` fits the models; this module adds what a reviewer of a pooled proportion from
small, mostly all-event studies asks for instead of Cochran's Q on continuity-corrected logits (which is
less spread than chance when every 1/1 study becomes logit(0.75) with variance 2.67):

* ``exact_homogeneity_p``: the exact (Fisher-Freeman-Halton) test of equal proportions on the k x 2 table,
  by a network algorithm: the p value sums the probabilities of all tables with the observed margins that
  are no more probable than the observed one (R's ``fisher.test``, same relative tolerance 1e-7);
* ``glmm_profile``: profile-likelihood intervals of the GLMM's tau and of its pooled logit mu (the
  likelihood-ratio statistic against chi-square(1) on ``level``), with the spread of true study
  proportions the upper bound of tau still allows;
* ``hts_prediction``: the Higgins-Thompson-Spiegelhalter (2009) prediction interval,
  mu +/- t(k - 2) sqrt(tau^2 + SE(mu)^2), which stays wide for few studies even when tau^2 is 0;
* ``moderator_lrt``: the GLMM likelihood-ratio test of a subgroup moderator (one common tau^2), beside the
  Wald Q-between of separately fitted subgroup GLMMs.

The likelihood-ratio test of tau^2 = 0 (a 50:50 mixture of chi-square(0) and chi-square(1) at the boundary)
is part of every GLMM fit (``GLMMResult.lrt_tau2_*``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize, special, stats

from engine.meta_analysis import (
    GLMMResult,
    SubgroupTest,
    check_counts,
    fit_glmm,
    glmm_loglik,
    normal_quantile,
)

__all__ = ["GLMMProfile", "exact_homogeneity_p", "glmm_profile", "hts_prediction", "moderator_lrt"]

# A search of the table space that visits more nodes than this is stopped: the review's data are then too
# large for an exact test, and a reader is better served by the error than by a build that never ends.
MAX_NODES = 2_000_000
_TAU_SEARCH = 10.0


def exact_homogeneity_p(events: ArrayLike, totals: ArrayLike, max_nodes: int = MAX_NODES) -> float:
    """Exact p value of homogeneity of k proportions (Fisher's exact test on the k x 2 table).

    Given the margins, the table (x_1, ..., x_k) of the smaller column has probability
    prod C(n_i, x_i) / C(N, m). The search runs over the rows; at each node the largest and smallest
    log-probability its completions can reach (precomputed per row and remaining count) decide at once
    whether all of them count (their total weight is C(N_rest, m_rest) by Vandermonde's identity), none
    does, or the node must be split; paths meeting at a node with the same partial sum are merged.
    """
    x, n = check_counts(events, totals)
    column = x if x.sum() <= (n - x).sum() else n - x
    m, k = int(column.sum()), x.size
    log_choose = [special.gammaln(ni + 1) - special.gammaln(np.arange(min(ni, m) + 1) + 1)
                  - special.gammaln(ni - np.arange(min(ni, m) + 1) + 1) for ni in n]
    suffix_n = np.concatenate([np.cumsum(n[::-1])[::-1], [0]])
    best = np.full((k + 1, m + 1), -np.inf)
    worst = np.full((k + 1, m + 1), np.inf)
    best[k, 0] = worst[k, 0] = 0.0
    for i in range(k - 1, -1, -1):
        for r in range(m + 1):
            j = np.arange(min(int(n[i]), r) + 1)
            best[i, r] = np.max(log_choose[i][j] + best[i + 1, r - j])
            worst[i, r] = np.min(log_choose[i][j] + worst[i + 1, r - j])
    observed = float(sum(log_choose[i][column[i]] for i in range(k)))
    threshold = observed + math.log1p(1e-7)
    log_all = float(special.gammaln(n.sum() + 1) - special.gammaln(m + 1) - special.gammaln(n.sum() - m + 1))

    def log_total(i: int, r: int) -> float:
        rest = int(suffix_n[i])
        return float(special.gammaln(rest + 1) - special.gammaln(r + 1) - special.gammaln(rest - r + 1))

    # Paths through the network that reach the same node (row, remaining count) with the same log-probability
    # so far are merged, keeping their number (as in Mehta and Patel's network algorithm): a stage holds, per
    # remaining count, the distinct partial sums and how many paths share each.
    stage: dict[int, dict[float, float]] = {m: {0.0: 1.0}}
    parts: list[float] = []
    visited = 0
    for i in range(k):
        following: dict[int, dict[float, float]] = {}
        for r, paths in stage.items():
            for partial, paths_here in paths.items():
                visited += 1
                if visited > max_nodes:
                    raise ValueError(f"the exact homogeneity test needs more than {max_nodes:,} steps for these "
                                     f"{k} studies ({m} in the smaller column): leave 'exact' out of "
                                     "analyses.heterogeneity in the review manifest")
                if partial + worst[i, r] > threshold:
                    continue
                if partial + best[i, r] <= threshold:
                    parts.append(paths_here * math.exp(partial + log_total(i, r) - log_all))
                    continue
                for j in range(min(int(n[i]), r) + 1):
                    if r - j <= suffix_n[i + 1]:
                        key = round(partial + float(log_choose[i][j]), 9)
                        bucket = following.setdefault(r - j, {})
                        bucket[key] = bucket.get(key, 0.0) + paths_here
        stage = following
    for partial, paths_here in stage.get(0, {}).items():
        if partial <= threshold:
            parts.append(paths_here * math.exp(partial - log_all))
    return min(1.0, math.fsum(parts))


@dataclass(frozen=True)
class GLMMProfile:
    """Profile-likelihood intervals of the GLMM (logit scale for mu, SD scale for tau).

    ``spread_*`` are the 2.5th and 97.5th percentiles (at ``level``) of the true study proportions at the
    upper bound of tau, with mu profiled there: how far apart the studies may be, as far as the data can say.
    """

    tau_lower: float
    tau_upper: float
    mu_lower: float
    mu_upper: float
    proportion_lower: float
    proportion_upper: float
    spread_lower: float
    spread_upper: float
    level: float


def glmm_profile(events: ArrayLike, totals: ArrayLike, level: float = 0.95, n_nodes: int = 21) -> GLMMProfile:
    """Profile-likelihood intervals of tau and mu: where 2 (l_max - l_profile) reaches chi-square(1)."""
    x, n = (a.astype(float) for a in check_counts(events, totals))
    if x.sum() in (0.0, n.sum()):
        raise ValueError("the GLMM has no finite estimate when every study has all or no events")
    ones = np.ones((x.size, 1))
    loglik = glmm_loglik(x, n, ones, n_nodes)
    fit = fit_glmm(x, n, ones, n_nodes)
    mu_hat, tau_hat = float(fit.beta[0]), fit.tau
    drop = stats.chi2.ppf(level, 1) / 2.0

    def mu_at(tau: float) -> float:
        return float(optimize.minimize_scalar(lambda mu: -loglik(np.array([mu, tau])), bracket=(mu_hat - 1, mu_hat + 1),
                                              tol=1e-10).x)

    def profile_tau(tau: float) -> float:
        return loglik(np.array([mu_at(tau), tau]))

    def profile_mu(mu: float) -> float:
        found = optimize.minimize_scalar(lambda tau: -loglik(np.array([mu, tau])), bounds=(0.0, _TAU_SEARCH),
                                         method="bounded", options={"xatol": 1e-9})
        return max(-float(found.fun), loglik(np.array([mu, 0.0])))

    def gap_tau(tau: float) -> float:
        return fit.loglik - profile_tau(tau) - drop

    def gap_mu(mu: float) -> float:
        return fit.loglik - profile_mu(mu) - drop

    tau_lower = 0.0 if gap_tau(0.0) <= 0 else optimize.brentq(gap_tau, 0.0, tau_hat, xtol=1e-10)
    tau_upper = optimize.brentq(gap_tau, tau_hat, _TAU_SEARCH, xtol=1e-10)
    mu_lower = optimize.brentq(gap_mu, _outward(gap_mu, mu_hat, -1.0), mu_hat, xtol=1e-10)
    mu_upper = optimize.brentq(gap_mu, mu_hat, _outward(gap_mu, mu_hat, 1.0), xtol=1e-10)
    z = normal_quantile(level)
    centre = mu_at(tau_upper)
    back = special.expit([mu_lower, mu_upper, centre - z * tau_upper, centre + z * tau_upper])
    return GLMMProfile(tau_lower, tau_upper, mu_lower, mu_upper, *map(float, back), level)


def _outward(gap: object, start: float, direction: float) -> float:
    """A point beyond the root of ``gap`` on one side of ``start`` (steps doubling)."""
    step = 1.0
    while gap(start + direction * step) < 0:  # type: ignore[operator]
        step *= 2.0
        if step > 64:
            raise ValueError("the profile likelihood of mu does not fall off: no finite interval")
    return start + direction * step


def hts_prediction(glmm: GLMMResult) -> tuple[float, float]:
    """The HTS prediction interval of a new study's true proportion (NaN below 3 studies)."""
    if not glmm.estimable or glmm.k < 3:
        return float("nan"), float("nan")
    half = stats.t.ppf(0.5 + glmm.level / 2.0, glmm.k - 2) * math.sqrt(glmm.tau2 + glmm.se**2)
    lower, upper = special.expit([glmm.mu - half, glmm.mu + half])
    return float(lower), float(upper)


def moderator_lrt(events: ArrayLike, totals: ArrayLike, groups: Sequence[object], n_nodes: int = 21) -> SubgroupTest:
    """GLMM likelihood-ratio test of the subgroups as a moderator (common tau^2), chi-square on groups - 1 df."""
    x, n = check_counts(events, totals)
    labels = list(dict.fromkeys(str(g) for g in groups))
    index = np.array([labels.index(str(g)) for g in groups])
    df = len(labels) - 1
    nan = float("nan")
    if df < 1:
        return SubgroupTest("GLMM", "EE", "common", nan, df, nan, "fewer than two subgroups")
    separated = [label for j, label in enumerate(labels) if x[index == j].sum() in (0, n[index == j].sum())]
    if separated:
        return SubgroupTest("GLMM", "EE", "common", nan, df, nan,
                            "no likelihood maximum with subgroup(s) of all or no events: " + ", ".join(separated))
    design = np.zeros((x.size, len(labels)))
    design[:, 0] = 1.0
    for j in range(1, len(labels)):
        design[index == j, j] = 1.0
    full = fit_glmm(x.astype(float), n.astype(float), design, n_nodes)
    null = fit_glmm(x.astype(float), n.astype(float), design[:, :1], n_nodes)
    statistic = max(0.0, 2.0 * (full.loglik - null.loglik))
    return SubgroupTest("GLMM", "EE", "common", statistic, df, float(stats.chi2.sf(statistic, df)),
                        "likelihood-ratio test")
