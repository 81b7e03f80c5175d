"""Dose arithmetic, checked against hand computations written out in each test."""

from __future__ import annotations

import pytest

from scripts.dosing import Regimen, daily_dose_class, format_range, per_cycle, per_cycle_class, per_day, per_four_weeks


def test_per_day_regimen() -> None:
    # "0.4 g/kg for 5 days" every 4 weeks: 0.4 x 5 = 2 g/kg per cycle, 2 x 28/28 = 2 per 4 weeks.
    regimen = Regimen(0.4, "per_day", (5, 5), (28, 28))
    assert per_cycle(regimen) == pytest.approx((2.0, 2.0))
    assert per_day(regimen) == (0.4, 0.4)
    assert per_four_weeks(regimen) == pytest.approx((2.0, 2.0))


def test_per_cycle_regimen_over_a_range_of_days() -> None:
    # "2 g/kg over 2-3 days": 2/3 = 0.667 to 2/2 = 1 g/kg a day.
    regimen = Regimen(2.0, "per_cycle", (2, 3), (28, 28))
    assert per_day(regimen) == pytest.approx((2 / 3, 1.0))
    assert format_range(per_day(regimen)) == "0.67\u20131"


def test_six_weekly_interval_lowers_the_monthly_dose() -> None:
    # Ravat's second patient: 1 g/kg every 6 weeks = 1 x 28/42 = 0.667 g/kg per 4 weeks.
    regimen = Regimen(1.0, "per_day", (1, 1), (42, 42))
    assert per_four_weeks(regimen) == pytest.approx((2 / 3, 2 / 3))
    assert per_cycle_class(per_cycle(regimen)) == "low"


def test_two_weekly_half_dose_is_low_only_per_month() -> None:
    # Tuchinda: 0.5 g/kg every 2 weeks = 0.5 per cycle (neither range) but 1.0 per 4 weeks (low).
    regimen = Regimen(0.5, "per_cycle", None, (14, 14))
    assert per_cycle_class(per_cycle(regimen)) == "neither"
    assert per_four_weeks(regimen) == pytest.approx((1.0, 1.0))


def test_daily_class_rules() -> None:
    conventional = Regimen(0.4, "per_day", (5, 5), (28, 28))
    high = Regimen(0.7, "per_day", (3, 3), (42, 42))
    straddling = Regimen(2.0, "per_cycle", (3, 5), (28, 28))  # 0.4 to 0.667 g/kg a day
    assert daily_dose_class([conventional]) == "conventional"
    assert daily_dose_class([conventional, high]) == "high"  # Pitarch: 0.4 x 5, then 0.7 x 3 days
    assert daily_dose_class([straddling]) == "unclear"  # Kim: the review calls it vague
    assert daily_dose_class([Regimen(None, None, None, None)]) == "not_available"


def test_boundaries_are_inclusive() -> None:
    # 0.5 g/kg a day is conventional (0.4-0.5); 2.1 g/kg per cycle is still high (2-2.1).
    assert daily_dose_class([Regimen(0.5, "per_day", (4, 4), (28, 28))]) == "conventional"
    assert per_cycle_class((2.0999999999999996, 2.0999999999999996)) == "high"
    assert per_cycle_class((1.75, 1.75)) == "neither"
