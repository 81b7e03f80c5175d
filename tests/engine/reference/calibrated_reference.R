## Reference values for the calibrated heterogeneity, prediction and sensitivity statistics
## (tests/engine/test_calibrated.py), computed in R independently of the Python code: lme4/metafor for
## the GLMM fits, R's own adaptive integrate() for the profile likelihoods, fisher.test for the exact
## homogeneity test, binom.test for the single-proportion intervals.
##
## One-off: run from the repository root with
##     Rscript tests/engine/reference/calibrated_reference.R > tests/engine/reference/calibrated_reference.json
## The tests only read the JSON; they never need R.
## Produced with R 4.2.2, metafor 3.8.1, lme4 1.1.31 (Debian bookworm packages).

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
  library(jsonlite)
})

## IVIG in livedoid vasculopathy: responders / patients per study (data/raw, study_id 1-17).
ivig <- data.frame(
  id = 1:17,
  xi = c(2, 1, 2, 1, 8, 1, 1, 4, 10, 7, 1, 1, 9, 2, 1, 24, 1),
  ni = c(2, 1, 2, 1, 9, 1, 1, 5, 11, 7, 1, 1, 9, 2, 1, 25, 1),
  design = c("series", "report", "series", "report", "trial", "report", "report", "series", NA,
             "series", "report", "report", "series", "series", "report", "retrospective", "report")
)
## A clearly heterogeneous made-up data set (as in metafor_reference.R).
het <- data.frame(xi = c(2, 8, 15, 3, 20, 9, 1, 12), ni = c(10, 10, 20, 12, 22, 30, 8, 14),
                  grp = c("first", "first", "first", "first", "second", "second", "second", "second"))

## The rows of the review's Table 4 dose groups (data/raw/dose_groups.csv), and the daily-dose classes
## within the high-dose group.
dose <- data.frame(
  xi = c(1, 10, 1, 2, 1, 1, 4, 7, 1, 1, 9, 24, 1, 1, 8, 1),
  ni = c(1, 11, 1, 2, 1, 1, 5, 7, 1, 1, 9, 25, 1, 1, 9, 1),
  grp = c(rep("high", 12), rep("low", 4)))
daily <- data.frame(
  xi = c(1, 10, 1, 2, 1, 1, 4, 1, 1, 9, 24),
  ni = c(1, 11, 1, 2, 1, 1, 5, 1, 1, 9, 25),
  grp = c("high", "high", "conv", "conv", "conv", "high", "high", "conv", "conv", "high", "conv"))

## Marginal log-likelihood of the binomial-logit random-intercept model by adaptive integration
## (stats::integrate), not by Gauss-Hermite quadrature as in the code under test.
loglik <- function(mu, tau, x, n) {
  sum(mapply(function(xi, ni) {
    if (tau == 0) return(dbinom(xi, ni, plogis(mu), log = TRUE))
    f <- function(u) dbinom(xi, ni, plogis(mu + tau * u)) * dnorm(u)
    log(integrate(f, -Inf, Inf, rel.tol = 1e-12, abs.tol = 0)$value)
  }, x, n))
}
fit_ml <- function(x, n) {
  o <- optim(c(qlogis(sum(x) / sum(n)), 0.5), function(p) -loglik(p[1], abs(p[2]), x, n),
             method = "Nelder-Mead", control = list(reltol = 1e-14, maxit = 5000))
  o0 <- optimize(function(m) -loglik(m, 0, x, n), c(-10, 15), tol = 1e-12)
  if (o0$objective <= o$value) list(mu = o0$minimum, tau = 0, ll = -o0$objective)
  else list(mu = o$par[1], tau = abs(o$par[2]), ll = -o$value)
}
profile_tau <- function(tau, x, n)
  -optimize(function(m) -loglik(m, tau, x, n), c(-10, 15), tol = 1e-12)$objective
profile_mu <- function(mu, x, n)
  -optimize(function(t) -loglik(mu, t, x, n), c(0, 10), tol = 1e-12)$objective

profile_intervals <- function(x, n, level = 0.95) {
  ml <- fit_ml(x, n)
  cut <- qchisq(level, 1) / 2
  g_tau <- function(t) ml$ll - profile_tau(t, x, n) - cut
  tau_lower <- if (ml$tau == 0 || g_tau(0) <= 0) 0 else uniroot(g_tau, c(0, ml$tau), tol = 1e-10)$root
  tau_upper <- uniroot(g_tau, c(ml$tau, 10), tol = 1e-10)$root
  g_mu <- function(m) ml$ll - profile_mu(m, x, n) - cut
  mu_lower <- uniroot(g_mu, c(ml$mu - 10, ml$mu), tol = 1e-10)$root
  mu_upper <- uniroot(g_mu, c(ml$mu, ml$mu + 10), tol = 1e-10)$root
  ## The true study proportions at the upper bound of tau, with mu profiled there (central 95%).
  centre <- optimize(function(m) -loglik(m, tau_upper, x, n), c(-10, 15), tol = 1e-12)$minimum
  spread <- plogis(centre + c(-1, 1) * qnorm(1 - (1 - level) / 2) * tau_upper)
  list(mu = ml$mu, tau = ml$tau, loglik = ml$ll, tau_lower = tau_lower, tau_upper = tau_upper,
       spread_lower = spread[1], spread_upper = spread[2],
       mu_lower = mu_lower, mu_upper = mu_upper,
       proportion_lower = plogis(mu_lower), proportion_upper = plogis(mu_upper))
}

## rma.glmm's estimate with the Higgins-Thompson-Spiegelhalter prediction interval on t(k - 2).
glmm_summary <- function(x, n, level = 0.95) {
  res <- rma.glmm(measure = "PLO", xi = x, ni = n)
  k <- length(x)
  mu <- as.numeric(res$b)
  half <- qt(1 - (1 - level) / 2, k - 2) * sqrt(res$tau2 + res$se^2)
  ## LRT of tau^2 = 0: the ML fit by integrate() against the logistic model without random effect (glm).
  ## (glmer's logLik with nAGQ > 1 carries another constant than glm's, so the two are not compared.)
  ll0 <- as.numeric(logLik(glm(cbind(x, n - x) ~ 1, family = binomial)))
  lrt <- max(0, 2 * (fit_ml(x, n)$ll - ll0))
  list(k = k, mu = mu, se = res$se, tau2 = res$tau2,
       proportion = plogis(mu), proportion_ci_lower = plogis(res$ci.lb), proportion_ci_upper = plogis(res$ci.ub),
       hts_lower = plogis(mu - half), hts_upper = plogis(mu + half),
       lrt_tau2 = lrt, lrt_tau2_p = if (lrt > 0) 0.5 * pchisq(lrt, 1, lower.tail = FALSE) else 1)
}

leave_one_out <- function(x, n) {
  full <- rma.glmm(measure = "PLO", xi = x, ni = n)
  rows <- lapply(seq_along(x), function(i) {
    r <- rma.glmm(measure = "PLO", xi = x[-i], ni = n[-i])
    list(proportion = plogis(as.numeric(r$b)), ci_lower = plogis(r$ci.lb), ci_upper = plogis(r$ci.ub),
         tau2 = r$tau2, dfbetas = (as.numeric(full$b) - as.numeric(r$b)) / r$se)
  })
  list(proportion = sapply(rows, `[[`, "proportion"), ci_lower = sapply(rows, `[[`, "ci_lower"),
       ci_upper = sapply(rows, `[[`, "ci_upper"), tau2 = sapply(rows, `[[`, "tau2"),
       dfbetas = sapply(rows, `[[`, "dfbetas"))
}

## Likelihood-ratio test of a subgroup moderator in the GLMM (common tau^2), ML fits.
moderator_lrt <- function(d) {
  d$study <- factor(seq_len(nrow(d)))
  g <- factor(d$grp, levels = unique(d$grp))
  f0 <- glmer(cbind(xi, ni - xi) ~ 1 + (1 | study), data = d, family = binomial, nAGQ = 25)
  f1 <- glmer(cbind(xi, ni - xi) ~ g + (1 | study), data = d, family = binomial, nAGQ = 25)
  stat <- max(0, 2 * (as.numeric(logLik(f1)) - as.numeric(logLik(f0))))
  df <- nlevels(g) - 1
  list(stat = stat, df = df, p = pchisq(stat, df, lower.tail = FALSE))
}

retreated <- ivig
retreated$xi[retreated$id == 9] <- retreated$xi[retreated$id == 9] - 1
non_case <- subset(ivig, !(design %in% c("series", "report")))
at_least_5 <- subset(ivig, ni >= 5)
low <- subset(dose, grp == "low")

## Exact homogeneity tests of small tables with heterogeneity, ties and an all-event row.
fisher_tables <- list(list(xi = c(3, 1, 2), ni = c(5, 4, 6)),
                      list(xi = c(2, 8, 5, 1, 6), ni = c(10, 10, 8, 6, 6)),
                      list(xi = c(1, 1, 1, 0, 4, 3), ni = c(1, 1, 1, 2, 5, 9)))
for (i in seq_along(fisher_tables)) {
  t <- fisher_tables[[i]]
  fisher_tables[[i]]$p <- fisher.test(cbind(t$xi, t$ni - t$xi))$p.value
}

binom <- function(x, n) as.numeric(binom.test(x, n)$conf.int)

out <- list(
  software = list(R = R.version.string, metafor = as.character(packageVersion("metafor")),
                  lme4 = as.character(packageVersion("lme4"))),
  ivig = list(xi = ivig$xi, ni = ivig$ni,
              glmm = glmm_summary(ivig$xi, ivig$ni),
              profile = profile_intervals(ivig$xi, ivig$ni),
              fisher_p = fisher.test(cbind(ivig$xi, ivig$ni - ivig$xi))$p.value,
              leave_one_out = leave_one_out(ivig$xi, ivig$ni)),
  het = list(xi = het$xi, ni = het$ni, grp = het$grp,
             glmm = glmm_summary(het$xi, het$ni),
             profile = profile_intervals(het$xi, het$ni),
             leave_one_out = leave_one_out(het$xi, het$ni),
             moderator = moderator_lrt(het)),
  dose = list(xi = dose$xi, ni = dose$ni, grp = dose$grp, moderator = moderator_lrt(dose),
              low = glmm_summary(low$xi, low$ni)),
  daily = list(xi = daily$xi, ni = daily$ni, grp = daily$grp, moderator = moderator_lrt(daily)),
  sensitivity = list(
    retreated = list(xi = retreated$xi, ni = retreated$ni, glmm = glmm_summary(retreated$xi, retreated$ni)),
    non_case = list(xi = non_case$xi, ni = non_case$ni, glmm = glmm_summary(non_case$xi, non_case$ni)),
    at_least_5 = list(xi = at_least_5$xi, ni = at_least_5$ni,
                      glmm = glmm_summary(at_least_5$xi, at_least_5$ni))),
  fisher_tables = fisher_tables,
  headache = list(review = list(x = 11, n = 80, ci = binom(11, 80)),
                  described = list(x = 11, n = 72, ci = binom(11, 72)))
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "\n")
