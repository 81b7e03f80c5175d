"""The second review, examples/wu-2016-cataract (Wu et al. 2016, prevalence of congenital cataract), built by
the same Snakefile and engine with no code of its own, and checked as the main paper is: its pooled estimates
against the published ones and an independent R computation (metafor and lme4, stored in the example's
reference/ folder), the published numbers through its ledger, and every number of its rendered paper by the
audit, against values recomputed from its raw sheet."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine import analysis
from engine.audit import audit, read_pdf_text
from engine.ledger import classify, load_claims
from engine.manifest import Review, load_review
from engine.recompute import fresh_displays
from engine.values import read_displays
from tests.conftest import REPO
from tests.engine.review_fixture import read_sheets_of

EXAMPLE = REPO / "examples" / "wu-2016-cataract"
R: dict[str, Any] = json.loads((EXAMPLE / "reference" / "metafor_reference.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def review() -> Review:
    return load_review(EXAMPLE / "config" / "review.yaml")


@pytest.fixture(scope="module")
def built() -> Path:
    """The example built in place, as .ci/run builds it (a no-op when it is built and current)."""
    search_path = os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]])
    result = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--directory", str(EXAMPLE)],
                            cwd=REPO, capture_output=True, text=True, check=False,
                            env={**os.environ, "PATH": search_path})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return EXAMPLE


@pytest.fixture(scope="module")
def analyses(review: Review, tmp_path_factory: pytest.TempPathFactory) -> analysis.Analyses:
    return analysis.run(review, read_sheets_of(review, tmp_path_factory.mktemp("validated")))


def close(ours: float, theirs: float, rel: float) -> bool:
    return math.isclose(ours, theirs, rel_tol=rel)


def test_the_example_has_no_code_of_its_own(review: Review) -> None:
    assert not list(EXAMPLE.rglob("*.py")), "the second review must be built by the engine alone"
    plugins = [rule for rule in review.rules if rule["check"] == "plugin"] + list(review.values.get("plugins", []))
    plugins += [spec for spec in review.tables.values() if "plugin" in spec]
    plugins += [spec for spec in review.figures.values() if "plugin" in spec]
    assert plugins == []


def test_the_counts_are_those_of_the_source(review: Review, analyses: analysis.Analyses) -> None:
    rows = analyses.by_key("ma_all").rows
    assert list(rows["events"]) == R["data"]["xi"] and list(rows["total"]) == R["data"]["ni"]


@pytest.mark.parametrize(("model", "attribute"), [("PLO_DL", "re_logit"), ("PFT_DL", "re_ft")])
def test_random_effects_models_equal_metafor(analyses: analysis.Analyses, model: str, attribute: str) -> None:
    ours, theirs = getattr(analyses.by_key("ma_all").result, attribute), R["models"][model]
    for name in ("proportion", "proportion_ci_lower", "proportion_ci_upper"):
        assert close(getattr(ours, name), theirs[name], 1e-6), name
    assert close(ours.tau2, theirs["tau2"], 1e-6) and close(ours.q, theirs["q"], 1e-8)
    assert close(ours.i2, theirs["i2"], 1e-6) and ours.q_df == theirs["q_df"]


def test_the_glmm_equals_rma_glmm(analyses: analysis.Analyses) -> None:
    ours, theirs = analyses.by_key("ma_all").result.glmm, R["models"]["GLMM"]
    assert close(ours.proportion, theirs["proportion"], 1e-4)
    assert close(ours.tau2, theirs["tau2"], 1e-3)
    # The interval comes from the curvature of the likelihood, which R and the engine take numerically.
    assert close(ours.proportion_ci_lower, theirs["proportion_ci_lower"], 1e-3)
    assert close(ours.proportion_ci_upper, theirs["proportion_ci_upper"], 1e-3)


def test_the_subgroups_equal_metafor(analyses: analysis.Analyses) -> None:
    by_design = analyses.by_key("ma_design")
    theirs = R["subgroups"]["PLO_DL"]
    for label, level in zip(by_design.subgroups.labels, ("birth_cohort", "other"), strict=True):
        within = by_design.subgroups.within[by_design.subgroups.labels.index(label)].re_logit
        assert close(within.proportion, theirs["groups"][level]["proportion"], 1e-6)
        assert close(within.tau2, theirs["groups"][level]["tau2"], 1e-6)
    test = next(t for t in by_design.subgroups.tests if t.model == "PLO")
    assert close(test.q_between, theirs["separate_tau2_q_between"], 1e-6)
    assert close(test.p_value, theirs["separate_tau2_p"], 1e-6)


def test_the_published_pooled_prevalence_reproduces(review: Review) -> None:
    displays = fresh_displays(review)
    # Wu et al. 2016: 4.24 per 10,000 (95% CI 3.16-5.69), DerSimonian-Laird on the logit scale.
    assert (displays["ma_all_re_logit_pct"], displays["ma_all_re_logit_ci"]) == ("4.24", "3.16–5.69")
    classified = {c.claim.claim_id: c for c in classify(load_claims(review.claims), displays)}
    assert all(c.as_expected for c in classified.values())
    assert classified["conference_pooled_ci"].found_class == "reproduced"  # printed "3·16–5·69"
    assert classified["abstract_references"].found_class == "reproduced"  # printed "2,610"


def test_every_number_of_the_rendered_paper_is_bound_and_equals_the_data(built: Path, review: Review) -> None:
    html = (built / "_manuscript" / "index.html").read_text(encoding="utf-8")
    result = audit(html, read_displays(built / "results" / "values.yml"),
                   read_pdf_text(built / "_manuscript" / "index.pdf"))
    assert result.ok, "\n".join(f.message for f in result.findings)
    fresh = fresh_displays(review)
    assert {span.key: span.text for span in result.values} == {span.key: fresh[span.key] for span in result.values}
    assert len(result.values) > 40
