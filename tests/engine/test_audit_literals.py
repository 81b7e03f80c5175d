"""The audit's rule for literals: each names its source, and none states what the registry computes."""

from __future__ import annotations

from engine.audit import audit

CLAIMS = {"general_men": ("24", "males", "differs"), "efficacy_untreated": ("five", "", "not_derivable"),
          "abstract_patients": ("Eighty", "n_patients", "reproduced"),
          "methods_duplicates": ("20", "prisma_duplicates", "transcribed")}
DISPLAYS = {"n_patients": "80", "males": "23", "n_studies_antithrombotic_combination": "7", "prisma_duplicates": "20"}


def _page(body: str) -> str:
    return f"<html><body><main id='sec-x'><p>{body}</p></main></body></html>"


def _rules(body: str) -> list[str]:
    return [finding.rule for finding in audit(_page(body), DISPLAYS, claims=CLAIMS).findings]


def test_a_literal_without_a_source_fails() -> None:
    assert _rules('The text gives <span class="lit">24</span> men.') == ["unsourced-literal"]


def test_each_kind_of_source_passes() -> None:
    assert _rules('The text gives <span class="lit" data-claim="general_men">24</span> men.') == []
    assert _rules('Of <span class="lit" data-claim="efficacy_untreated">5</span> patients.') == []
    assert _rules('Published in <span class="lit" data-source="date">2022</span>.') == []
    assert _rules('Reported in <span class="lit">1–16.9</span>% '
                  '<span class="citation" data-cites="guo2018"><a role="doc-biblioref">(3)</a></span>.') == []


def test_a_citation_in_another_sentence_is_no_source() -> None:
    assert _rules('A fact <span class="citation" data-cites="a"><a role="doc-biblioref">(1)</a></span>. '
                  'Then <span class="lit">41</span> more.') == ["unsourced-literal"]


def test_a_cited_literal_the_registry_computes_fails() -> None:
    # The example: the antithrombotic co-treatment count is computable from the sheets.
    body = ('as in <span class="lit">7</span> of the included reports '
            '<span class="citation" data-cites="a b"><a role="doc-biblioref">(6,11)</a></span>.')
    assert _rules(body) == ["computed-literal"]


def test_a_literal_quoting_a_reproduced_claim_must_be_bound() -> None:
    assert _rules('The review has <span class="lit" data-claim="abstract_patients">80</span>.') == ["computed-literal"]


def test_a_transcribed_claim_may_stay_literal() -> None:
    assert _rules('Removing <span class="lit" data-claim="methods_duplicates">20</span> records.') == []


def test_unknown_claim_and_wrong_number_fail() -> None:
    assert _rules('A <span class="lit" data-claim="nowhere">3</span>.') == ["unknown-claim"]
    assert _rules('The text gives <span class="lit" data-claim="general_men">25</span> men.') == ["unknown-claim"]


def test_identifiers_are_not_compared_but_other_sources_are() -> None:
    assert _rules('Table <span class="lit" data-source="numbering">7</span>.') == []
    assert _rules('In <span class="lit" data-source="my notes">7</span> reports.') == ["computed-literal"]


def test_literals_are_listed_by_source() -> None:
    result = audit(_page('Table <span class="lit" data-source="numbering">4</span> and '
                         '<span class="lit" data-claim="general_men">24</span>.'), DISPLAYS, claims=CLAIMS)
    assert [(literal.kind, literal.text) for literal in result.literals] == [("source", "4"), ("claim", "24")]
