"""The values registry: every number the manuscript quotes, computed from the validated sheets.

``results/values.yml`` maps each key to its value, its display text exactly as the manuscript prints it,
what it means and which rule and script made it. ``results/values-meta.yml`` is the same registry as
Quarto metadata: ``v.<key>`` holds a Markdown span ``[display]{.value key="..." title="..."}``, so the
manuscript's ``{{< meta v.<key> >}}`` shortcode prints the value marked with its key under Quarto and under
the project's Pandoc filter alike, and the HTML audit can find every bound number.

What the registry holds comes from the review's manifest: counts over the outcome's rows
(``values.outcome``), one-column summaries (``values.describe``), the analyses, the PRISMA counts, the
ledger, and plug-ins for the numbers only that review quotes (``values.plugins``). A value whose inputs
are not reported is **absent**: it is listed under ``_absent`` with the reason (values.yml, and
``v_absent`` in the metadata), so the manuscript quoting it fails with the key and the reason, and never
shows a 0 or a count of "NA"s.

Percentages: two decimals, trailing zeros dropped ("95%", "22.22%").
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from engine.numbers import decimal
from engine.sheets import YAML_LOADER

if TYPE_CHECKING:
    import pandas

    from engine.ledger import Claim
    from engine.manifest import Review

MADE_BY = "rule values (engine/values.py)"
ABSENT = "_absent"  # values.yml's section of the keys without a value: no registry key starts with "_"


@dataclass(frozen=True)
class Value:
    """One registry entry."""

    key: str
    value: int | float | str
    display: str
    description: str
    made_by: str = MADE_BY


@dataclass(frozen=True)
class Absent:
    """A value the text may want but the data cannot give: its key and why (what is not reported)."""

    key: str
    reason: str
    description: str
    made_by: str = MADE_BY


Entry = Value | Absent
Plugin = Callable[[Mapping[str, "pandas.DataFrame"], Mapping[str, Value]], Iterable[Entry]]


def percent(part: float, whole: float, decimals: int = 2) -> str:
    """A share as the review prints it: "95%", "22.22%"."""
    return f"{decimal(100 * part / whole, decimals)}%"


def count(key: str, number: int, description: str) -> Value:
    """A whole number; from 10,000 up printed with thousands separators ("8,302,708"), below as is ("2159")."""
    return Value(key, int(number), f"{int(number):,}" if abs(int(number)) >= 10_000 else str(int(number)),
                 description)


def text_value(key: str, display: str, description: str) -> Value:
    """An entry whose value is its display text (a list or a table cell, not a number)."""
    return Value(key, display, display, description)


def share(key: str, part: int, whole: int, description: str, decimals: int = 2) -> list[Entry]:
    """Two entries for a proportion: "<key>_pct" ("95%") and "<key>_ratio" ("76/80"); absent over nothing."""
    if whole == 0:
        reason = "its denominator is 0: nothing is reported to take a share of"
        return [Absent(f"{key}_pct", reason, f"{description} (percent)"),
                Absent(f"{key}_ratio", reason, f"{description} (count/denominator)")]
    return [
        Value(f"{key}_pct", round(100 * part / whole, 10), percent(part, whole, decimals), f"{description} (percent)"),
        Value(f"{key}_ratio", f"{part}/{whole}", f"{part}/{whole}", f"{description} (count/denominator)"),
    ]


def known_values(column: pandas.Series) -> pandas.Series:
    """The reported values of a column ("NA", missing, and empty text dropped)."""
    present = column.dropna()
    return present[present.astype(str).str.strip().ne("") & present.astype(str).ne("NA")]


# --- the engine's values, from the manifest ------------------------------------------------------------


def outcome_values(review: Review, rows: pandas.DataFrame) -> list[Entry]:
    """Counts over the outcome's rows (one per study), under the keys ``values.outcome`` names."""
    names = review.values.get("outcome", {})
    if not names:
        return []
    entries: list[Entry] = []
    totals, events = known_values(rows["total"]), known_values(rows["events"])
    what = review.outcome.get("events_name", "events")
    of = review.outcome.get("total_name", "patients")

    def whole(key_name: str, series: pandas.Series, description: str) -> None:
        key = names.get(key_name)
        if key is None:
            return
        if len(series) < len(rows):
            entries.append(Absent(key, f"{len(rows) - len(series)} of {len(rows)} studies do not report it",
                                  description))
        else:
            entries.append(count(key, int(series.sum()), description))

    if "studies" in names:
        entries.append(count(names["studies"], len(rows), "Included studies"))
    whole("total", totals, f"{of.capitalize()}, all studies")
    whole("events", events, f"{what.capitalize()}, all studies")
    complete = rows[rows["events"].notna() & rows["total"].notna()]
    if "non_events" in names:
        whole("non_events", known_values(rows["total"] - rows["events"]), f"{of.capitalize()} who were not {what}")
    if "share" in names:
        if len(complete) < len(rows):
            reason = f"{len(rows) - len(complete)} of {len(rows)} studies do not report {what} or {of}"
            entries += [Absent(f"{names['share']}_pct", reason, f"Crude share of {of} who were {what}"),
                        Absent(f"{names['share']}_ratio", reason, f"Crude share of {of} who were {what}")]
        else:
            entries += share(names["share"], int(complete["events"].sum()), int(complete["total"].sum()),
                             f"Crude share of {of} who were {what}")
    if "all_events" in names:
        entries.append(count(names["all_events"], int((complete["events"] == complete["total"]).sum()),
                             f"Studies in which every one of the {of} were {what}"))
    if "largest" in names:
        entries.append(count(names["largest"], int(totals.max()), f"{of.capitalize()} in the largest study")
                       if len(totals) else Absent(names["largest"], "no study reports its size",
                                                  f"{of.capitalize()} in the largest study"))
    if "single" in names:
        entries.append(count(names["single"], int((totals == 1).sum()), f"Studies with a total of one ({of})"))
    return entries


def describe_values(review: Review, sheets: Mapping[str, pandas.DataFrame]) -> list[Entry]:
    """The manifest's one-column summaries; a summary of values nobody reported is absent, with the reason."""
    from engine.manifest import Where

    entries: list[Entry] = []
    for spec in review.values.get("describe", []):
        sheet, _, column = spec["column"].partition(".")
        frame = Where(spec.get("where", {})).apply(sheets[sheet])
        reported = known_values(frame[column])
        key, stat, description = spec["key"], spec["stat"], spec["description"]
        missing = len(frame) - len(reported)
        if stat == "count":
            entries.append(count(key, len(frame), description))
        elif stat == "known":
            entries.append(count(key, len(reported), description))
        elif stat == "distinct":
            entries.append(count(key, reported.nunique(), description) if len(reported)
                           else Absent(key, f"no row of {sheet} reports {column}", description))
        elif stat == "sum":
            entries.append(count(key, int(reported.sum()), description) if missing == 0 and len(reported)
                           else Absent(key, f"{missing} of {len(frame)} rows of {sheet} do not report {column}",
                                       description))
        elif not len(reported):
            entries.append(Absent(key, f"no row of {sheet} reports {column}", description))
        else:
            number = float(reported.min() if stat == "min" else reported.max())
            entries.append(Value(key, int(number) if number.is_integer() else number, decimal(number), description))
    return entries


def prisma_values(prisma_counts: pandas.DataFrame) -> list[Entry]:
    """The study-selection counts (reported or derived by engine/prisma.py) and the exclusion reasons."""
    values: list[Entry] = []
    for row in prisma_counts.to_dict("records"):
        reason = row.get("reason")
        is_reason = isinstance(reason, str) and bool(reason)
        key = (f"prisma_excluded_{'_'.join(reason.lower().replace('-', ' ').split())}" if is_reason
               else f"prisma_{row['data']}")
        description = f"Reports excluded: {reason}" if is_reason else f"PRISMA {row['data']} ({row['status']})"
        if row["n"] is None or row["n"] != row["n"]:
            values.append(Absent(key, f"prisma.csv: not reported ({row['status']})", description))
        else:
            values.append(count(key, int(row["n"]), description))
    return values


def analysis_values(analysis: Mapping[str, Any]) -> list[Entry]:
    """Model estimates written by the meta-analysis rule, already formatted there."""
    made_by = analysis.get("made_by", "rule meta_analysis (engine/analysis.py, engine/meta_analysis.py)")
    return [*(Value(key, entry["value"], entry["display"], entry["description"], made_by)
              for key, entry in analysis.get("values", {}).items()),
            *(Absent(key, reason, "Not estimable from the data", made_by)
              for key, reason in analysis.get("absent", {}).items())]


def _plugin_made_by(reference: str) -> str:
    module = reference.partition(":")[0]
    return f"rule values ({module.replace('.', '/')}.py)"


def build_registry(review: Review, sheets: Mapping[str, pandas.DataFrame],
                   prisma_counts: pandas.DataFrame | None = None, analysis: Mapping[str, Any] | None = None,
                   claims: Sequence[Claim] | None = None) -> dict[str, Entry]:
    """All registry entries, by key: the engine's, then each plug-in's in manifest order.

    Each plug-in sees the registry built before it. With ``claims`` (the published review's numbers),
    the ledger's counts are added last, from the classification of the claims against everything else.
    """
    from engine.rows import outcome_rows

    registry = _by_key([*outcome_values(review, outcome_rows(review, sheets)), *describe_values(review, sheets)])
    for reference in review.values.get("plugins", []):
        made_by = _plugin_made_by(reference)
        found = review.plugin(reference)(sheets, present(registry))
        registry = _by_key([*registry.values(),
                            *(entry if entry.made_by != MADE_BY else type(entry)(**{**vars(entry), "made_by": made_by})
                              for entry in found)])
    extra: list[Entry] = []
    if prisma_counts is not None:
        extra += prisma_values(prisma_counts)
    if analysis is not None:
        extra += analysis_values(analysis)
    registry = _by_key([*registry.values(), *extra])
    if claims is not None:
        from engine.ledger import classify, ledger_values

        displays = {key: entry.display for key, entry in present(registry).items()}
        registry = _by_key([*registry.values(), *ledger_values(classify(claims, displays))])
    return registry


def present(registry: Mapping[str, Entry]) -> dict[str, Value]:
    """The entries that have a value."""
    return {key: entry for key, entry in registry.items() if isinstance(entry, Value)}


def _by_key(entries: Iterable[Entry]) -> dict[str, Entry]:
    """Entries by key; a key made twice is a programming error."""
    registry: dict[str, Entry] = {}
    for entry in entries:
        if entry.key in registry:
            raise ValueError(f"registry key {entry.key!r} is made twice")
        registry[entry.key] = entry
    return registry


# --- writing ---------------------------------------------------------------------------------------------


def _markdown_escape(text: str) -> str:
    """Escape Markdown punctuation so a display text is printed as is inside the span."""
    return "".join("\\" + char if char in "\\`*_{}[]()<>#+!|~^$@" else char for char in text)


def registry_document(registry: Mapping[str, Entry]) -> dict[str, Any]:
    """values.yml: key -> value, display, description, made_by; the absent keys under ``absent``."""
    document: dict[str, Any] = {
        key: {"value": entry.value, "display": entry.display, "description": entry.description,
              "made_by": entry.made_by} for key, entry in sorted(present(registry).items())}
    absent = {key: {"reason": entry.reason, "description": entry.description, "made_by": entry.made_by}
              for key, entry in sorted(registry.items()) if isinstance(entry, Absent)}
    if absent:
        document[ABSENT] = absent
    return document


def meta_document(registry: Mapping[str, Entry]) -> dict[str, dict[str, str]]:
    """The Quarto metadata form: ``v.<key>`` -> a Markdown span carrying key and provenance."""
    spans = {}
    for key, entry in sorted(present(registry).items()):
        title = f"{key}: {entry.description} [{entry.made_by}]".replace('"', "'")
        spans[key] = f'[{_markdown_escape(entry.display)}]{{.value key="{key}" title="{title}"}}'
    document = {"v": spans}
    absent = {key: entry.reason for key, entry in sorted(registry.items()) if isinstance(entry, Absent)}
    if absent:
        document["v_absent"] = absent
    return document


def _dump(document: Mapping[str, Any], path: Path, header: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(dict(document), sort_keys=True, allow_unicode=True, width=1000)
    path.write_text(f"# {header}\n{text}", encoding="utf-8")


def load_inputs(review: Review, validated_dir: Path, prisma_counts: Path | None, analysis: Path | None,
                claims: Path | None = None) -> dict[str, Any]:
    import pandas

    from engine.ledger import load_claims
    from engine.sheets import read_sheets

    return {
        "sheets": read_sheets(review, validated_dir),
        "prisma_counts": pandas.read_csv(prisma_counts) if prisma_counts else None,
        "analysis": json.loads(analysis.read_text(encoding="utf-8")) if analysis else None,
        "claims": load_claims(claims) if claims else None,
    }


def main(argv: Sequence[str] | None = None) -> int:
    from engine.manifest import load_review

    parser = argparse.ArgumentParser(description="Write the values registry.")
    parser.add_argument("--manifest", type=Path, default=Path("config/review.yaml"))
    parser.add_argument("--validated-dir", type=Path, required=True)
    parser.add_argument("--prisma-counts", type=Path)
    parser.add_argument("--analysis", type=Path)
    parser.add_argument("--claims", type=Path, help="the published review's numbers: adds the ledger's counts")
    parser.add_argument("--out", type=Path, required=True, help="results/values.yml")
    parser.add_argument("--meta-out", type=Path, required=True, help="results/values-meta.yml")
    args = parser.parse_args(argv)
    review = load_review(args.manifest)
    registry = build_registry(review, **load_inputs(review, args.validated_dir, args.prisma_counts, args.analysis,
                                                    args.claims))
    _dump(registry_document(registry), args.out, "Generated by engine/values.py: every number the manuscript quotes.")
    _dump(meta_document(registry), args.meta_out, "Generated by engine/values.py: the registry as Quarto metadata.")
    absent = len(registry) - len(present(registry))
    print(f"values: {len(present(registry))} registry entries, {absent} absent (not reported) -> {args.out}")
    return 0


def read_displays(registry_path: Path) -> dict[str, str]:
    """Key -> display text of a written registry (results/values.yml): what the text must show."""
    document = yaml.load(registry_path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
    return {key: str(entry["display"]) for key, entry in document.items() if key != ABSENT}


def read_absent(registry_path: Path) -> dict[str, str]:
    """Key -> reason of the values a written registry holds no number for."""
    document = yaml.load(registry_path.read_text(encoding="utf-8"), Loader=YAML_LOADER) or {}
    return {key: str(entry["reason"]) for key, entry in document.get(ABSENT, {}).items()}


if __name__ == "__main__":
    # Run as engine.values, not __main__: the plug-ins import engine.values, and their Value and Absent must
    # be the classes this run checks entries against.
    from engine import values

    sys.exit(values.main())
