"""Dose arithmetic: dose per cycle, daily dose and dose per 4 weeks from the regimens sheet, and the
review's two classifications (dose per cycle: high 2-2.1 vs low 1-1.5 g/kg; daily dose: high > 0.5 vs
conventional 0.4-0.5 g/kg/day).

Ranges are carried as (low, high) pairs because the review prints regimens such as "2 g/kg over 2-3 days",
whose daily dose is a range (0.67-1 g/kg/day), and the classification must say "unclear" when a range
straddles a boundary rather than pick a side.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from engine.numbers import Range, format_range

__all__ = ["Regimen", "daily_dose_class", "daily_dose_classes", "format_range", "per_cycle", "per_cycle_class",
           "per_day", "per_four_weeks", "regimen_from_row", "regimens_by_group", "daily_class_column"]

if TYPE_CHECKING:
    import pandas

DAYS_PER_MONTH = 28  # the review's "monthly" dose is per 4-week interval, its usual cycle length
CONVENTIONAL_DAILY_MAX = 0.5  # g/kg/day; "high daily dose" is anything above (review, Results)
HIGH_PER_CYCLE = (2.0, 2.1)
LOW_PER_CYCLE = (1.0, 1.5)

DailyClass = Literal["high", "conventional", "unclear", "not_available"]


@dataclass(frozen=True)
class Regimen:
    """One printed regimen, with the dose in g/kg."""

    dose_g_kg: float | None
    basis: str | None  # "per_day" or "per_cycle"
    days: Range | None
    interval_days: Range | None


def regimen_from_row(row: Mapping[str, Any]) -> Regimen:
    """A :class:`Regimen` from a validated regimens row (missing values as None or NaN)."""

    def number(column: str) -> float | None:
        value = row.get(column)
        return None if value is None or value != value or value == "" else float(value)

    days = (number("days_min"), number("days_max"))
    interval = (number("interval_days_min"), number("interval_days_max"))
    basis = row.get("dose_basis")
    return Regimen(
        dose_g_kg=number("dose_g_kg"),
        basis=basis if isinstance(basis, str) and basis else None,
        days=days if None not in days else None,  # type: ignore[arg-type]
        interval_days=interval if None not in interval else None,  # type: ignore[arg-type]
    )


def per_cycle(regimen: Regimen) -> Range | None:
    """Dose per cycle in g/kg: the per-day dose times the days, or the printed per-cycle dose."""
    if regimen.dose_g_kg is None:
        return None
    if regimen.basis == "per_cycle":
        return (regimen.dose_g_kg, regimen.dose_g_kg)
    if regimen.basis == "per_day" and regimen.days is not None:
        return (regimen.dose_g_kg * regimen.days[0], regimen.dose_g_kg * regimen.days[1])
    return None


def per_day(regimen: Regimen) -> Range | None:
    """Daily dose in g/kg/day; a per-cycle dose spread over a range of days gives a range."""
    if regimen.dose_g_kg is None:
        return None
    if regimen.basis == "per_day":
        return (regimen.dose_g_kg, regimen.dose_g_kg)
    if regimen.basis == "per_cycle" and regimen.days is not None:
        return (regimen.dose_g_kg / regimen.days[1], regimen.dose_g_kg / regimen.days[0])
    return None


def per_four_weeks(regimen: Regimen) -> Range | None:
    """Dose per 4 weeks in g/kg (the review's "total monthly dose")."""
    cycle = per_cycle(regimen)
    if cycle is None or regimen.interval_days is None:
        return None
    return (cycle[0] * DAYS_PER_MONTH / regimen.interval_days[1], cycle[1] * DAYS_PER_MONTH / regimen.interval_days[0])


def within(value: Range, bounds: Range, tolerance: float = 1e-9) -> bool:
    """Whether a whole range lies inside the closed interval ``bounds``."""
    return bounds[0] - tolerance <= value[0] and value[1] <= bounds[1] + tolerance


def daily_dose_class(regimens: Iterable[Regimen]) -> DailyClass:
    """The review's daily-dose class of a group.

    A group is "high" when one of its regimens gives more than 0.5 g/kg on every day whatever the printed
    number of days (a sequential regimen such as 0.4 g/kg x 5 then 0.7 g/kg x 3 days counts as high), and
    "conventional" when every regimen stays within 0.4-0.5 g/kg/day. A regimen whose daily-dose range
    straddles 0.5 ("2 g/kg over 3-5 days": 0.4-0.67) leaves the group "unclear", as the review says of it.
    """
    daily = [per_day(regimen) for regimen in regimens]
    known = [d for d in daily if d is not None]
    if not known:
        return "not_available"
    if any(low > CONVENTIONAL_DAILY_MAX for low, _ in known):
        return "high"
    if all(high <= CONVENTIONAL_DAILY_MAX for _, high in known) and len(known) == len(daily):
        return "conventional"
    return "unclear"


def per_cycle_class(cycle: Range | None) -> Literal["high", "low", "neither", "not_available"]:
    """Which of the review's dose-per-cycle ranges a dose per cycle falls in."""
    if cycle is None:
        return "not_available"
    if within(cycle, HIGH_PER_CYCLE):
        return "high"
    if within(cycle, LOW_PER_CYCLE):
        return "low"
    return "neither"


def regimens_by_group(regimens: pandas.DataFrame) -> dict[str, list[Regimen]]:
    """The parsed regimens of each dose group (column group_id of the regimens sheet), in sheet order."""
    return {group_id: [regimen_from_row(row) for row in rows.to_dict("records")]
            for group_id, rows in regimens.groupby("group_id", sort=False)}


def daily_dose_classes(regimens: pandas.DataFrame) -> dict[str, DailyClass]:
    """Each dose group's daily-dose class (:func:`daily_dose_class` of its regimens)."""
    return {group_id: daily_dose_class(parsed) for group_id, parsed in regimens_by_group(regimens).items()}


def daily_class_column(rows: pandas.DataFrame, sheets: Mapping[str, pandas.DataFrame]) -> pandas.Series:
    """Each dose group's daily-dose class (high, conventional, unclear, not_available) from its regimens."""
    return rows["group_id"].map(daily_dose_classes(sheets["regimens"]))
