"""The whole registry recomputed in one process from a review's raw sheets, without reading results/.

What the pipeline's rules do job by job (validate_sheet, prisma, meta_analysis, values), done here
in one go, so that the audit and the tests can compare the rendered paper with the data themselves
rather than with the files the build wrote.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from engine.manifest import Review
from engine.values import Entry


def fresh_registry(review: Review) -> dict[str, Entry]:
    """Every registry entry, recomputed from ``review.raw_dir``; raises ValueError if a sheet fails."""
    from engine import analysis, prisma, values
    from engine.ledger import load_claims
    from engine.sheets import format_problems, write_validated
    from engine.validation import validate_sheet

    with tempfile.TemporaryDirectory(prefix="fresh-registry-") as work:
        folder = Path(work)
        for spec in review.sheets:
            parsed, problems = validate_sheet(review, spec.name)
            if problems or parsed is None:
                raise ValueError(f"{review.raw_dir} does not validate:\n{format_problems(problems)}")
            write_validated(parsed, folder / f"{spec.name}.csv", spec.schema)
        counts = None
        if review.prisma is not None:
            prisma.write_counts_csv(prisma.validated_counts(review.prisma).counts, folder / "prisma.csv")
            counts = folder / "prisma.csv"
        inputs = values.load_inputs(review, folder, counts, None)
    analysed = analysis.document(analysis.run(review, inputs["sheets"]))
    claims = load_claims(review.claims) if review.claims else None
    return values.build_registry(review, inputs["sheets"], inputs["prisma_counts"], analysed, claims=claims)


def fresh_displays(review: Review) -> dict[str, str]:
    """Key -> display of every value that has one, recomputed from the raw sheets."""
    from engine.values import present

    return {key: entry.display for key, entry in present(fresh_registry(review)).items()}
