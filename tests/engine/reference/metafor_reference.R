## Reference values for tests/engine/test_meta_analysis.py, computed with metafor/lme4.
##
## One-off: run from the repository root with
##     Rscript tests/engine/reference/metafor_reference.R > tests/engine/reference/metafor_reference.json
## The tests only read the JSON; they never need R.
## Produced with R 4.2.2, metafor 3.8.1, lme4 1.1.31 (Debian bookworm packages
## r-base-core, r-cran-metafor, r-cran-lme4).

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
  library(jsonlite)
})

## IVIG in livedoid vasculopathy: responders / patients in 17 case series.
ivig <- data.frame(
  xi = c(2, 1, 2, 1, 8, 1, 1, 4, 10, 7, 1, 1, 9, 2, 1, 24, 1),
  ni = c(2, 1, 2, 1, 9, 1, 1, 5, 11, 7, 1, 1, 9, 2, 1, 25, 1)
)
## Illustrative grouping for the subgroup machinery (not a real covariate).
ivig$grp <- rep(c("A", "B"), length.out = nrow(ivig))

## A clearly heterogeneous made-up data set, so that tau^2 > 0 is exercised.
het <- data.frame(
  xi = c(2, 8, 15, 3, 20, 9, 1, 12),
  ni = c(10, 10, 20, 12, 22, 30, 8, 14),
  grp = c("first", "first", "first", "first", "second", "second", "second", "second")
)

iv_model <- function(dat, measure, method) {
  es <- escalc(measure = measure, xi = xi, ni = ni, data = dat)
  res <- rma(yi, vi, data = es, method = method)
  tr <- if (measure == "PLO") transf.ilogit else transf.ipft.hm
  targs <- if (measure == "PLO") NULL else list(ni = dat$ni)
  pr <- predict(res)
  prt <- predict(res, transf = tr, targs = targs)
  list(
    yi = as.numeric(es$yi), vi = as.numeric(es$vi),
    estimate = as.numeric(res$b), se = res$se,
    ci_lower = res$ci.lb, ci_upper = res$ci.ub,
    pi_lower = pr$pi.lb, pi_upper = pr$pi.ub,
    tau2 = res$tau2, q = res$QE, q_p = res$QEp, i2 = res$I2, h2 = res$H2,
    weights = as.numeric(weights(res)),
    proportion = prt$pred, proportion_ci_lower = prt$ci.lb, proportion_ci_upper = prt$ci.ub,
    proportion_pi_lower = prt$pi.lb, proportion_pi_upper = prt$pi.ub
  )
}

glmm_model <- function(dat, nAGQ = 7) {
  res <- rma.glmm(measure = "PLO", xi = xi, ni = ni, data = dat,
                  control = list(nAGQ = nAGQ))
  prt <- predict(res, transf = transf.ilogit)
  pr <- predict(res)
  list(
    nAGQ = nAGQ,
    mu = as.numeric(res$b), se = res$se, ci_lower = res$ci.lb, ci_upper = res$ci.ub,
    pi_lower = pr$pi.lb, pi_upper = pr$pi.ub,
    tau2 = res$tau2, qe_lrt = res$QE.LRT, qe_lrt_p = res$QEp.LRT,
    loglik = as.numeric(logLik(res)),
    proportion = prt$pred, proportion_ci_lower = prt$ci.lb, proportion_ci_upper = prt$ci.ub
  )
}

glmer_model <- function(dat, nAGQ) {
  dat$study <- factor(seq_len(nrow(dat)))
  fit <- glmer(cbind(xi, ni - xi) ~ 1 + (1 | study), data = dat,
               family = binomial, nAGQ = nAGQ)
  list(nAGQ = nAGQ, mu = as.numeric(fixef(fit)), se = sqrt(vcov(fit)[1, 1]),
       tau = as.numeric(getME(fit, "theta")), loglik = as.numeric(logLik(fit)))
}

all_models <- function(dat) {
  out <- list()
  for (m in c("PLO", "PFT")) for (meth in c("EE", "DL", "REML"))
    out[[paste(m, meth, sep = "_")]] <- iv_model(dat, m, meth)
  out$GLMM <- glmm_model(dat, 7)
  out$glmer_nAGQ7 <- glmer_model(dat, 7)
  out$glmer_nAGQ25 <- glmer_model(dat, 25)
  out
}

subgroups <- function(dat) {
  out <- list()
  for (m in c("PLO", "PFT")) for (meth in c("DL", "REML")) {
    es <- escalc(measure = m, xi = xi, ni = ni, data = dat)
    common <- rma(yi, vi, mods = ~ factor(grp, levels = unique(grp)), data = es, method = meth)
    fits <- lapply(unique(dat$grp), function(g) rma(yi, vi, data = es, subset = grp == g, method = meth))
    sep <- rma(sapply(fits, function(f) as.numeric(f$b)), sei = sapply(fits, function(f) f$se), method = "EE")
    out[[paste(m, meth, sep = "_")]] <- list(
      common_qm = common$QM, common_p = common$QMp,
      separate_q = sep$QE, separate_p = sep$QEp,
      group_estimates = sapply(fits, function(f) as.numeric(f$b)),
      group_tau2 = sapply(fits, function(f) f$tau2))
  }
  gl <- rma.glmm(measure = "PLO", xi = xi, ni = ni, mods = ~ factor(grp, levels = unique(grp)), data = dat)
  out$GLMM <- list(common_qm = gl$QM, common_p = gl$QMp, tau2 = gl$tau2)
  out
}

## Single-proportion intervals for 76/80 (= pooled IVIG data).
ci <- list(
  clopper_pearson = as.numeric(binom.test(76, 80)$conf.int),
  wilson = as.numeric(prop.test(76, 80, correct = FALSE)$conf.int)
)

## BCG vaccine log risk ratios: classic DL/REML benchmark.
bcg <- escalc(measure = "RR", ai = tpos, bi = tneg, ci = cpos, di = cneg, data = dat.bcg)
bcg_ref <- lapply(c(DL = "DL", REML = "REML"), function(meth) {
  r <- rma(yi, vi, data = bcg, method = meth)
  list(estimate = as.numeric(r$b), se = r$se, tau2 = r$tau2, i2 = r$I2, h2 = r$H2, q = r$QE)
})

out <- list(
  software = list(R = R.version.string,
                  metafor = as.character(packageVersion("metafor")),
                  lme4 = as.character(packageVersion("lme4"))),
  ivig = list(xi = ivig$xi, ni = ivig$ni, grp = ivig$grp,
              models = all_models(ivig), subgroups = subgroups(ivig)),
  het = list(xi = het$xi, ni = het$ni, grp = het$grp,
             models = all_models(het), subgroups = subgroups(het)),
  intervals_76_80 = ci,
  bcg = list(yi = as.numeric(bcg$yi), vi = as.numeric(bcg$vi), models = bcg_ref)
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "\n")
