"""The ledger's classes for transcribed numbers and for sentences judged against registry values."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.ledger import Claim, classify, ledger_counts, load_claims


def _claim(claim_id: str, published: str, key: str, expected: str, reason: str = "why") -> Claim:
    return Claim(claim_id, "Discussion", "context", published, key, expected, reason)  # type: ignore[arg-type]


def test_transcribed_is_its_own_class_and_can_still_differ() -> None:
    found = classify([_claim("a", "39", "p", "transcribed"), _claim("b", "40", "p", "transcribed")], {"p": "39"})
    assert [c.found_class for c in found] == ["transcribed", "differs"]


def test_a_sentence_shows_every_value_it_rests_on() -> None:
    found = classify([_claim("s", "seemed more effective", "hi;lo", "contradicted")], {"hi": "92.6%", "lo": "96.8%"})
    assert found[0].found_class == "contradicted"
    assert found[0].recomputed == "92.6% (hi); 96.8% (lo)"
    assert ledger_counts(found)["contradicted"] == 1


def test_a_sentence_resting_on_a_missing_value_is_an_error() -> None:
    with pytest.raises(ValueError, match="gone"):
        classify([_claim("s", "text", "hi;gone", "supported")], {"hi": "1"})


def test_several_keys_only_for_judged_sentences(tmp_path: Path) -> None:
    path = tmp_path / "claims.csv"
    path.write_text("claim_id,section,context,published,registry_key,expected_class,reason\n"
                    "a,Results,ctx,1,x;y,reproduced,\n"
                    "b,Results,ctx,1,,supported,why\n"
                    "c,Results,ctx,1,x,transcribed,\n", encoding="utf-8")
    with pytest.raises(ValueError) as error:
        load_claims(path)
    message = str(error.value)
    assert "row 2: several registry keys" in message
    assert "row 3: a registry_key is needed" in message
    assert "row 4: every class but reproduced needs its reason" in message
