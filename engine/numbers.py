"""How numbers are printed: fixed decimals with trailing zeros dropped, and ranges with an en dash."""

from __future__ import annotations

Range = tuple[float, float]


def decimal(number: float, decimals: int = 2) -> str:
    """Fixed decimals with trailing zeros dropped: 95.00 -> "95", 13.750 -> "13.75"."""
    text = f"{number:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_range(value: Range | None, decimals: int = 2) -> str:
    """"2", "0.67-1" style text for a range (en dash), trailing zeros dropped; "NA" when unknown."""
    if value is None:
        return "NA"
    low, high = decimal(value[0], decimals), decimal(value[1], decimals)
    return low if low == high else f"{low}\u2013{high}"
