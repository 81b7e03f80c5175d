"""The published-claims ledger: each claim keeps its class, the known findings hold by hand, and every
claim can be found in the published review.

The hand computations below use the review's printed tables (Tables 1, 2 and 4), written out study by
study; they do not read scripts/ output.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from engine import prisma
from engine.ledger import (
    CLASSES,
    NO_VALUE,
    Claim,
    ClassifiedClaim,
    classify,
    ledger_counts,
    ledger_table,
    ledger_values,
    load_claims,
    main,
    normalise,
)
from engine.tables import include_file
from engine.values import Value, present
from engine.values import main as values_main
from scripts.review_values import unit_fraction_below
from tests.conftest import RAW, REPO, REVIEW

CLAIMS_PATH = REPO / "data" / "published" / "claims.csv"
CLAIMS = load_claims(CLAIMS_PATH)
SOURCE = (Path(__file__).resolve().parents[3] / "shared" / "sources"
          / "review-gao-jin-2022-ivig-livedoid-vasculopathy.txt")
WINDOW = 80  # characters around the context in which the printed number must stand


@pytest.fixture(scope="module")
def prisma_counts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("prisma") / "prisma_counts.csv"
    prisma.write_counts_csv(prisma.validated_counts(RAW / "prisma.csv").counts, path)
    return path


@pytest.fixture(scope="module")
def registry() -> dict[str, Value]:
    # The whole registry, analyses included: the ledger's claims name model estimates too.
    from engine.recompute import fresh_registry

    return present(fresh_registry(REVIEW))


@pytest.fixture(scope="module")
def classified(registry: dict[str, Value]) -> dict[str, ClassifiedClaim]:
    return {c.claim.claim_id: c for c in classify(CLAIMS, {key: v.display for key, v in registry.items()})}


def claim(claim_id: str) -> Claim:
    return next(c for c in CLAIMS if c.claim_id == claim_id)


# --- every claim --------------------------------------------------------------------------------------


@pytest.mark.parametrize("claim_id", [c.claim_id for c in CLAIMS])
def test_claim_keeps_its_class(classified: dict[str, ClassifiedClaim], claim_id: str) -> None:
    """A reproduced claim that stops reproducing fails, and so does a differing claim that starts to agree."""
    found = classified[claim_id]
    assert found.found_class == found.claim.expected_class, (
        f"{claim_id}: published {found.claim.published!r}, recomputed {found.recomputed!r}")


def test_every_registry_key_exists(registry: dict[str, Value]) -> None:
    # A claim about a sentence may rest on several keys, separated by ";".
    named = {key for c in CLAIMS if c.registry_key for key in c.registry_key.split(";")}
    assert sorted(named - set(registry)) == []


def test_no_reason_is_missing_unless_reproduced() -> None:
    assert [c.claim_id for c in CLAIMS if c.expected_class != "reproduced" and not c.reason.strip()] == []


def test_claim_ids_are_unique() -> None:
    assert len({c.claim_id for c in CLAIMS}) == len(CLAIMS)


def _flatten(text: str) -> str:
    """The source as one line: italics tags gone, line-break hyphens joined, white space single, lower case."""
    text = re.sub(r"</?i>", "", text)
    text = re.sub(r"-\n\s*", "-", text)
    return " ".join(text.split()).lower()


@pytest.fixture(scope="module")
def review_text() -> str:
    if not SOURCE.exists():
        pytest.skip(f"source text not available: {SOURCE}")
    return _flatten(SOURCE.read_text(encoding="utf-8"))


@pytest.mark.parametrize("claim_id", [c.claim_id for c in CLAIMS])
def test_published_text_stands_near_its_context(review_text: str, claim_id: str) -> None:
    found = claim(claim_id)
    context = " ".join(found.context.split()).lower()
    starts = [m.start() for m in re.finditer(re.escape(context), review_text)]
    assert starts, f"context {found.context!r} is not in the review"
    number = re.compile(rf"(?<![\w.]){re.escape(' '.join(found.published.split()).lower())}(?!\w)")
    assert any(number.search(review_text[max(0, s - WINDOW):s + len(context) + WINDOW]) for s in starts), (
        f"{found.published!r} is not printed near {found.context!r}")


# --- the known findings, by hand ----------------------------------------------------------------------


def test_men_24_in_the_text_23_in_table_1(classified: dict[str, ClassifiedClaim]) -> None:
    # Table 1, M column: Kreuter 2, Bounfour 1, Monshi 4, Kim 1, Kofler 15; every other study 0 (Levy "0/1"
    # for 2 patients: one patient's sex is not given).
    assert 2 + 1 + 4 + 1 + 15 == 23
    assert classified["general_men"].recomputed == "23" and claim("general_men").published == "24"
    assert classified["general_men_pct"].recomputed == "28.75%"  # 23/80
    # The ratio 1:2.33 is 56/24; Table 1's 56 women over 23 men give 2.43.
    assert f"{56 / 24:.2f}" == "2.33" and f"{56 / 23:.2f}" == "2.43"
    assert classified["general_sex_ratio"].recomputed == "1:2.43"
    assert classified["general_sex_ratio"].found_class == "differs"


def test_recurrences_23_in_the_text_22_in_table_2(registry: dict[str, Value],
                                                   classified: dict[str, ClassifiedClaim]) -> None:
    # Table 2 Recurrence: Bounfour 3, Monshi 8, Kim 6, Vieira 1, Ozden 2, Kofler 2 relapsed.
    assert 3 + 8 + 6 + 1 + 2 + 2 == 22
    assert classified["recurrence_patients"].recomputed == "22"
    assert normalise(claim("recurrence_patients").published) == "23"
    # Scarpone's first patient relapsed in the primary report; Table 2 says only "1 patient NR".
    assert registry["recurrence_patients_with_primary"].display == str(22 + 1)


def test_median_age_46_64_against_the_weighted_mean(classified: dict[str, ClassifiedClaim]) -> None:
    # Table 1, patients x age: Levy 2x30, Amital 36, Ravat 2x38, Schanz 43, Kreuter 9x37.89, Pitarch 19,
    # Tuchinda 33, Bounfour 5x43, Monshi 11x29.91, Kim 7x27.71, Vieira 58, Yoshioka 51, Ozden 9x45.89,
    # Scarpone 2x33.5, Dinescu 41, Kofler 25x66.4, Takahagi 60.
    total = (2 * 30 + 36 + 2 * 38 + 43 + 9 * 37.89 + 19 + 33 + 5 * 43 + 11 * 29.91 + 7 * 27.71 + 58 + 51
             + 9 * 45.89 + 2 * 33.5 + 41 + 25 * 66.4 + 60)
    assert total == pytest.approx(3696) and total / 80 == pytest.approx(46.2)
    ages = [30, 36, 38, 43, 37.89, 19, 33, 43, 29.91, 27.71, 58, 51, 45.89, 33.5, 41, 66.4, 60]
    assert sum(ages) / 17 == pytest.approx(40.78, abs=0.005) and sorted(ages)[8] == 38  # the reason quotes both
    assert classified["general_age"].recomputed == "46.2" and classified["general_age"].found_class == "differs"


def test_prisma_39_20_41(classified: dict[str, ClassifiedClaim]) -> None:
    # "yielded 39 articles ..., removing 20 duplicating records. Another two ... all 41 identified records":
    # 39 read as after deduplication gives 39 + 2 = 41; read as before it, 39 - 20 + 2 = 21.
    assert 39 + 2 == 41 and 39 - 20 + 2 == 21
    for claim_id, printed in (("methods_records_after_duplicates", "39"), ("methods_duplicates", "20"),
                              ("methods_records_screened", "41"), ("methods_citation_records", "2")):
        assert classified[claim_id].recomputed == printed


def test_daily_dose_27_high_31_conventional(classified: dict[str, ClassifiedClaim]) -> None:
    # High daily (> 0.5 g/kg every day): Monshi 11 (2 g/kg over 2-3 days), Pitarch 1 (0.7 g/kg x 3 days),
    # Bounfour 5 (1 g/kg x 2), Ozden 9 (2 g/kg over 3 days), Scarpone 1 (2 g/kg over 2 days).
    assert 11 + 1 + 5 + 9 + 1 == 27
    # Conventional (0.4-0.5 g/kg a day): Levy 2, Ravat 1, Schanz 1 (0.5 x 4), Vieira 1 (2 over 5 days),
    # Yoshioka 1, Kofler 25 (2 over 5 days); Kim's 7 (2 g/kg over 3-5 days: 0.4-0.67) are in neither.
    assert 2 + 1 + 1 + 1 + 1 + 25 == 31 and 27 + 31 + 7 == 65
    assert classified["daily_high_patients"].recomputed == "27"
    assert classified["daily_conventional_patients"].recomputed == "31"
    assert classified["daily_vague_studies"].recomputed == "1"  # Kim alone


def test_dose_groups_65_and_12_of_77(classified: dict[str, ClassifiedClaim]) -> None:
    # Table 4 high: Scarpone 1, Monshi 11, Ravat 1, Levy 2, Schanz 1, Pitarch 1, Bounfour 5, Kim 7,
    # Vieira 1, Yoshioka 1, Ozden 9, Kofler 25; low: Scarpone 1, Ravat 1, Kreuter 9, Tuchinda 1.
    high, low = 1 + 11 + 1 + 2 + 1 + 1 + 5 + 7 + 1 + 1 + 9 + 25, 1 + 1 + 9 + 1
    assert (high, low) == (65, 12)
    assert f"{100 * high / 77:.2f}%" == "84.42%" and f"{100 * low / 77:.2f}%" == "15.58%"
    for claim_id in ("dose_high_patients", "dose_high_pct", "dose_high_ratio", "dose_low_patients", "dose_low_pct",
                     "dose_low_ratio"):
        assert classified[claim_id].found_class == "reproduced", claim_id


def test_dose_range_1_to_2_1(classified: dict[str, ClassifiedClaim]) -> None:
    # Per cycle: Tuchinda 0.5 g/kg every 2 weeks is the lowest, Pitarch 0.7 g/kg x 3 days = 2.1 the highest.
    assert 0.7 * 3 == pytest.approx(2.1) and 0.5 * 28 / 14 == 1
    assert classified["dose_monthly_range"].recomputed == "0.5\u20132.1"
    assert classified["abstract_dose_range"].found_class == "differs"


def test_headache_11_of_80() -> None:
    assert f"{100 * 11 / 80:.2f}%" == "13.75%"
    assert claim("ae_headache_pct").published == "13.75%"


def test_thrombophilia_63_14_and_more_than_one_fifth(classified: dict[str, ClassifiedClaim]) -> None:
    # Screened (Table 1 thrombophilia cell not NA): Ravat 2, Kreuter 9, Pitarch 1, Tuchinda 1, Bounfour 5,
    # Monshi 11, Kim 7, Vieira 1, Yoshioka 1, Kofler 25; positive: Ravat 1, Tuchinda 1, Monshi 3, Kim 1,
    # Yoshioka 1, Kofler 7.
    screened, positive = 2 + 9 + 1 + 1 + 5 + 11 + 7 + 1 + 1 + 25, 1 + 1 + 3 + 1 + 1 + 7
    assert (screened, positive) == (63, 14) and f"{100 * positive / screened:.2f}%" == "22.22%"
    assert 1 / 5 < positive / screened < 1 / 4
    assert classified["discussion_thrombophilia_fraction"].recomputed == "one-fifth"


def test_75_responded_well_plus_one_retreated_is_76(classified: dict[str, ClassifiedClaim]) -> None:
    # Table 2 responders: Levy 2, Amital 1, Ravat 2, Schanz 1, Kreuter 8, Pitarch 1, Tuchinda 1, Bounfour 4,
    # Monshi 10 (footnote a: one of them retreated 6 years later), Kim 7, Vieira 1, Yoshioka 1, Ozden 9,
    # Scarpone 2, Dinescu 1, Kofler 24, Takahagi 1.
    responders = 2 + 1 + 2 + 1 + 8 + 1 + 1 + 4 + 10 + 7 + 1 + 1 + 9 + 2 + 1 + 24 + 1
    assert responders == 76 and responders - 1 == 75
    assert classified["efficacy_responded_well"].found_class == "reproduced"
    assert classified["efficacy_responded_well"].recomputed == "75"
    assert classified["efficacy_response_ratio"].recomputed == "76/80"


def test_seven_studies_with_anticoagulants_or_antiplatelets(classified: dict[str, ClassifiedClaim]) -> None:
    # Table 2 combination treatment naming one: Bounfour (ASP, clopidogrel), Monshi (ASP, LMWH), Vieira
    # (warfarin), Yoshioka (warfarin), Ozden (anticoagulants), Scarpone (ASA, clopidogrel, dalteparin),
    # Kofler (ASP, heparin) = refs 16, 6, 18, 19, 20, 5, 22, the review's "5,6,16,18-20,22".
    assert len({16, 6, 18, 19, 20, 5, 22}) == 7
    assert classified["discussion_antithrombotic_studies"].recomputed == "7"


def test_three_studies_and_fourteen_case_reports(classified: dict[str, ClassifiedClaim]) -> None:
    # 2 retrospective + 1 prospective = 3 "studies"; with 14 case reports/series, 17 articles.
    assert 2 + 1 == 3 and 3 + 14 == 17
    assert classified["methods_non_case_articles"].recomputed == "3"
    assert classified["methods_case_articles"].recomputed == "14"
    # How many are retrospective follows: 3 studies less the 1 open trial (which two, the review does not say).
    assert classified["results_retrospective"].found_class == "reproduced"
    assert classified["results_retrospective"].recomputed == "2"


# --- the module ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("printed", "recomputed"), [
    ("95%", "95.00%"), ("Eighty", "80"), ("Twenty-three", "23"), ("Sixty-five", "65"), ("Fourteen", "14"),
    ("1 to 2.1", "1\u20132.1"), ("1-2.1", "1\u20132.1"), ("Eighty percent", "80%"),
    ("Headache, nausea", "nausea; headache"),
    ("33.5 [28\u201339]", "33.5  [28\u201339]"), ("one-fifth", "one-fifth"),
])
def test_normalise_equates(printed: str, recomputed: str) -> None:
    assert normalise(printed) == normalise(recomputed)


@pytest.mark.parametrize(("printed", "recomputed"), [
    ("46.64", "46.6"), ("24", "23"), ("1:2.33", "1:2.43"), ("NA", "6 cycles"), ("none", "1"),
    ("1 patient NR", "1 patient relapsed; 1 patient NR"), ("30%", "28.75%"),
])
def test_normalise_keeps_apart(printed: str, recomputed: str) -> None:
    assert normalise(printed) != normalise(recomputed)


def _claim(claim_id: str, published: str, key: str, expected: str, reason: str = "") -> Claim:
    return Claim(claim_id, "Results", "context", published, key, expected, reason)  # type: ignore[arg-type]


def test_classify_counts_and_values() -> None:
    claims = [_claim("a", "Eighty", "n", "reproduced"), _claim("b", "24", "m", "differs", "why"),
              _claim("c", "1999", "", "not_derivable", "a fact")]
    found = classify(claims, {"n": "80", "m": "23"})
    assert [c.found_class for c in found] == ["reproduced", "differs", "not_derivable"]
    assert [c.recomputed for c in found] == ["80", "23", None]
    assert ledger_counts(found) == {"reproduced": 1, "transcribed": 0, "differs": 1, "not_derivable": 1,
                                    "supported": 0, "contradicted": 0, "total": 3}
    assert {v.key: v.display for v in ledger_values(found)} == {
        "ledger_reproduced": "1", "ledger_transcribed": "0", "ledger_differs": "1", "ledger_not_derivable": "1",
        "ledger_supported": "0", "ledger_contradicted": "0", "ledger_total": "3"}


def test_classify_refuses_an_unknown_key() -> None:
    with pytest.raises(ValueError, match="gone"):
        classify([_claim("a", "1", "gone", "reproduced")], {"n": "1"})


def test_load_claims_lists_every_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,section,context,published,registry_key,expected_class,reason\n"
                    "ok,Results,ctx,1,n,reproduced,\n"
                    "no_reason,Results,ctx,1,n,differs,\n"
                    "Bad Id,Results,ctx,1,,not_derivable,a fact\n"
                    "key_but_not_derivable,Results,ctx,1,n,not_derivable,a fact\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_claims(path)
    message = str(error.value)
    assert "row 3" in message and "reason" in message
    assert "row 4" in message and "slug" in message
    assert "row 5" in message and "registry_key" in message
    assert "row 2" not in message


def test_the_ledger_table() -> None:
    found = classify([_claim("a", "24", "m", "differs", "Table 1 sums to 23"),
                      _claim("b", "16%", "", "not_derivable", "x")], {"m": "23"})
    spec = ledger_table(found)
    assert [c.label for c in spec.columns] == ["Section", "Context", "Published", "Recomputed", "Class", "Reason"]
    assert [(r["published"], r["recomputed"], r["class"]) for r in spec.rows] == [
        ("24", "23", "differs"), ("16%", NO_VALUE, "not derivable")]
    include = include_file(spec)
    assert "```{=html}" in include and "```{=typst}" in include and "Table 1 sums to 23" in include


def test_cli_writes_the_include(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    claims = tmp_path / "claims.csv"
    claims.write_text("claim_id,section,context,published,registry_key,expected_class,reason\n"
                      "men,Results,were men,24,males,differs,Table 1 sums to 23\n", encoding="utf-8")
    registry = tmp_path / "values.yml"
    registry.write_text(yaml.safe_dump({"males": {"value": 23, "display": "23"}}), encoding="utf-8")
    out = tmp_path / "tables" / "ledger.md"
    assert main(["--claims", str(claims), "--registry", str(registry), "--out", str(out)]) == 0
    assert 'id="tbl-ledger-gt"' in out.read_text(encoding="utf-8")
    assert "0 reproduced, 0 transcribed, 1 differs, 0 not_derivable, 0 supported, 0 contradicted, 1 total" in (
        capsys.readouterr().out)


def test_registry_carries_the_ledger_counts(registry: dict[str, Value]) -> None:
    by_class = {name: sum(c.expected_class == name for c in CLAIMS) for name in CLASSES}
    assert registry["ledger_total"].value == len(CLAIMS) == sum(by_class.values())
    for name in CLASSES:
        assert registry[f"ledger_{name}"].value == by_class[name]
    assert registry["ledger_total"].made_by == "rule values (engine/ledger.py)"


def test_values_cli_takes_the_claims(validated_dir: Path, prisma_counts: Path, tmp_path: Path) -> None:
    from engine import analysis

    out, meta = tmp_path / "values.yml", tmp_path / "values-meta.yml"
    # The claims name model estimates too, so the registry needs the meta-analysis rule's numbers.
    estimates = tmp_path / "meta_analysis.json"
    assert analysis.main(["--manifest", str(REVIEW.path), "--validated-dir", str(validated_dir),
                          "--out", str(estimates)]) == 0
    assert values_main(["--manifest", str(REVIEW.path), "--validated-dir", str(validated_dir),
                        "--prisma-counts", str(prisma_counts), "--analysis", str(estimates),
                        "--claims", str(CLAIMS_PATH), "--out", str(out), "--meta-out", str(meta)]) == 0
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["ledger_total"]["display"] == str(len(CLAIMS))


@pytest.mark.parametrize(("part", "whole", "n"), [(14, 63, 5), (1, 4, 5), (1, 3, 4), (2, 3, 2), (63, 63, 2)])
def test_unit_fraction_below(part: int, whole: int, n: int) -> None:
    # 14/63 = 0.222 > 1/5; 1/4 is not strictly below itself, so 1/5; 2/3 > 1/2; 1 > 1/2.
    assert unit_fraction_below(part, whole) == n
    assert 1 / n < part / whole
