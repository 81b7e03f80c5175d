## Independent reference values for the second example review (Wu et al. 2016, congenital cataract
## prevalence), computed with metafor/lme4 from the same counts as data/raw/studies.csv.
##
## One-off: run from the example's folder (examples/wu-2016-congenital-cataract-prevalence) with
##     Rscript reference/metafor_reference.R > reference/metafor_reference.json
## Nothing in the build needs R; the JSON is the record.
## Produced with the Debian bookworm packages r-base-core, r-cran-metafor, r-cran-lme4, r-cran-jsonlite
## (versions are written into the JSON).
##
## Proportions are on the probability scale (multiply by 10,000 for "per 10,000").

suppressPackageStartupMessages({
  library(metafor)
  library(lme4)
  library(jsonlite)
})

## Read the sheet relative to this script, so that the counts are the sheet's own.
script_arg <- grep("^--file=", commandArgs(trailingOnly = FALSE), value = TRUE)
here <- if (length(script_arg)) dirname(normalizePath(sub("^--file=", "", script_arg[1]))) else "reference"
sheet <- read.csv(file.path(here, "..", "data", "raw", "studies.csv"),
                  stringsAsFactors = FALSE, na.strings = character(0))
dat <- data.frame(xi = sheet$events, ni = sheet$total, grp = sheet$design,
                  study = sheet$ref_key, stringsAsFactors = FALSE)
stopifnot(nrow(dat) == 17, all(dat$xi >= 0), all(dat$ni >= dat$xi))

back <- function(measure) switch(measure, PLO = transf.ilogit, PFT = transf.ipft.hm, PLN = exp)

## Inverse-variance random-effects (or equal-effects) model on the logit (PLO) or
## Freeman-Tukey double-arcsine (PFT) scale.
iv_model <- function(d, measure, method) {
  es <- escalc(measure = measure, xi = xi, ni = ni, data = d)
  res <- rma(yi, vi, data = es, method = method)
  targs <- if (measure == "PFT") list(ni = d$ni) else NULL
  pr <- predict(res)
  prt <- predict(res, transf = back(measure), targs = targs)
  list(
    k = res$k, measure = measure, method = method,
    yi = as.numeric(es$yi), vi = as.numeric(es$vi),
    estimate = as.numeric(res$b), se = res$se,
    ci_lower = res$ci.lb, ci_upper = res$ci.ub,
    pi_lower = pr$pi.lb, pi_upper = pr$pi.ub,
    tau2 = res$tau2, tau2_se = res$se.tau2,
    i2 = res$I2, h2 = res$H2,
    q = res$QE, q_df = res$k - res$p, q_p = res$QEp,
    weights = as.numeric(weights(res)),
    proportion = as.numeric(prt$pred),
    proportion_ci_lower = as.numeric(prt$ci.lb), proportion_ci_upper = as.numeric(prt$ci.ub),
    proportion_pi_lower = as.numeric(prt$pi.lb), proportion_pi_upper = as.numeric(prt$pi.ub)
  )
}

## Binomial-normal model (random-intercept logistic regression), fitted by ML with 7-point
## adaptive Gauss-Hermite quadrature (metafor's default for this model, stated explicitly).
glmm_model <- function(d, nAGQ = 7) {
  res <- rma.glmm(measure = "PLO", xi = xi, ni = ni, data = d, method = "ML",
                  control = list(nAGQ = nAGQ))
  pr <- predict(res)
  prt <- predict(res, transf = transf.ilogit)
  list(
    k = res$k, method = "ML", nAGQ = nAGQ,
    mu = as.numeric(res$b), se = res$se, ci_lower = res$ci.lb, ci_upper = res$ci.ub,
    pi_lower = pr$pi.lb, pi_upper = pr$pi.ub,
    tau2 = res$tau2, i2 = res$I2,
    qe_wald = res$QE.Wld, qe_wald_p = res$QEp.Wld, qe_lrt = res$QE.LRT, qe_lrt_p = res$QEp.LRT,
    loglik = as.numeric(logLik(res)),
    proportion = as.numeric(prt$pred),
    proportion_ci_lower = as.numeric(prt$ci.lb), proportion_ci_upper = as.numeric(prt$ci.ub)
  )
}

## The same model fitted directly with lme4, as a check on rma.glmm.
glmer_model <- function(d, nAGQ) {
  d$id <- factor(seq_len(nrow(d)))
  fit <- glmer(cbind(xi, ni - xi) ~ 1 + (1 | id), data = d, family = binomial, nAGQ = nAGQ)
  list(nAGQ = nAGQ, mu = as.numeric(fixef(fit)), se = sqrt(vcov(fit)[1, 1]),
       tau2 = as.numeric(getME(fit, "theta"))^2, loglik = as.numeric(logLik(fit)),
       proportion = as.numeric(plogis(fixef(fit))))
}

all_models <- function(d) {
  out <- list()
  for (m in c("PLO", "PFT")) for (meth in c("EE", "DL", "REML"))
    out[[paste(m, meth, sep = "_")]] <- iv_model(d, m, meth)
  ## Log-proportion scale with DL: the other transformation that, like PLO_DL, reproduces the
  ## published pooled estimate and interval to the printed digits (see README.md).
  out$PLN_DL <- iv_model(d, "PLN", "DL")
  out$GLMM <- glmm_model(d)
  out$glmer_nAGQ7 <- glmer_model(d, 7)
  out$glmer_nAGQ25 <- glmer_model(d, 25)
  out
}

## Subgroups by design (birth_cohort / other), in the sheet's order of first appearance.
subgroups <- function(d) {
  lev <- unique(d$grp)
  out <- list(levels = lev, k = as.list(setNames(as.integer(table(factor(d$grp, levels = lev))), lev)))
  for (m in c("PLO", "PFT")) for (meth in c("DL", "REML")) {
    es <- escalc(measure = m, xi = xi, ni = ni, data = d)
    ## (a) one tau^2 shared by the subgroups: mixed-effects meta-regression, omnibus test QM.
    common <- rma(yi, vi, mods = ~ factor(grp, levels = lev), data = es, method = meth)
    ## (b) a tau^2 per subgroup: separate random-effects models, then the Q test between their
    ##     estimates (equal-effects model on the subgroup estimates), as RevMan / meta do.
    fits <- lapply(lev, function(g) rma(yi, vi, data = es, subset = grp == g, method = meth))
    sep <- rma(sapply(fits, function(f) as.numeric(f$b)), sei = sapply(fits, function(f) f$se), method = "EE")
    groups <- lapply(seq_along(lev), function(j) {
      f <- fits[[j]]
      targs <- if (m == "PLO") NULL else list(ni = d$ni[d$grp == lev[j]])
      prt <- predict(f, transf = back(m), targs = targs)
      list(k = f$k, estimate = as.numeric(f$b), se = f$se, ci_lower = f$ci.lb, ci_upper = f$ci.ub,
           tau2 = f$tau2, i2 = f$I2, q = f$QE, q_df = f$k - f$p, q_p = f$QEp,
           proportion = as.numeric(prt$pred),
           proportion_ci_lower = as.numeric(prt$ci.lb), proportion_ci_upper = as.numeric(prt$ci.ub))
    })
    names(groups) <- lev
    out[[paste(m, meth, sep = "_")]] <- list(
      groups = groups,
      separate_tau2_q_between = sep$QE, separate_tau2_q_df = sep$k - 1, separate_tau2_p = sep$QEp,
      common_tau2 = common$tau2, common_qm = common$QM, common_qm_df = common$QMdf[1],
      common_qm_p = common$QMp)
  }
  gl <- rma.glmm(measure = "PLO", xi = xi, ni = ni, mods = ~ factor(grp, levels = lev), data = d,
                 method = "ML", control = list(nAGQ = 7))
  out$GLMM <- list(common_qm = gl$QM, common_qm_df = gl$QMdf[1], common_qm_p = gl$QMp, tau2 = gl$tau2,
                   coefficients = as.numeric(gl$b))
  out
}

## Crude (pooled-count) proportion with the exact Clopper-Pearson interval.
x <- sum(dat$xi); n <- sum(dat$ni)
crude <- list(events = x, total = n, proportion = x / n,
              clopper_pearson = as.numeric(binom.test(x, n)$conf.int))

out <- list(
  software = list(R = R.version.string,
                  metafor = as.character(packageVersion("metafor")),
                  lme4 = as.character(packageVersion("lme4")),
                  jsonlite = as.character(packageVersion("jsonlite"))),
  data = list(study = dat$study, xi = dat$xi, ni = dat$ni, grp = dat$grp),
  crude = crude,
  models = all_models(dat),
  subgroups = subgroups(dat)
)
cat(toJSON(out, digits = NA, auto_unbox = TRUE, pretty = TRUE), "\n")
