"""Withdraw rendered outputs that a failed build leaves older than their sources.

When a build fails, Snakemake keeps the outputs of earlier successful builds. A reader who opens
``_manuscript/index.html`` after editing a sheet and getting an error would see a paper that no longer
matches its data, with nothing to say so. The Snakefile's ``onerror`` handler therefore calls
:func:`withdraw_stale_outputs`: every output older than the newest workflow input is renamed from
``index.html`` to ``index.STALE.html`` (``index.pdf`` to ``index.STALE.pdf``).

Renaming rather than deleting keeps the last good paper for comparison while no file at the expected
path looks current; a withdrawn file from an earlier failure is replaced. The next successful build
writes ``index.html`` afresh because Snakemake sees it missing, and deletes the withdrawn copy
(:func:`discard_replaced`).

The same renaming happens in two more places, so that no failure leaves a stale paper in place: in
``onstart`` for the paper the build is about to render again (:func:`withdraw_before_rebuild`: Snakemake
would delete it before the render, and a failed render would leave nothing), and when Snakemake stops
before any job, which ``onerror`` does not see (engine/build_guard.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

STALE_MARK = "STALE"


def workflow_inputs(root: Path, patterns: Sequence[str], exclude_dirs: Sequence[str] = ()) -> list[Path]:
    """The files under ``root`` matching any glob of ``patterns`` (``**`` recurses), outside ``exclude_dirs``."""
    skipped = [root / directory for directory in exclude_dirs]
    return sorted({path for pattern in patterns for path in root.glob(pattern)
                   if path.is_file() and not any(path.is_relative_to(directory) for directory in skipped)})


def withdrawn_name(output: Path) -> Path:
    """``index.html`` -> ``index.STALE.html``: the file type stays, the name says it is not current."""
    return output.with_name(f"{output.stem}.{STALE_MARK}{output.suffix}")


def is_withdrawn(output: Path) -> bool:
    """Whether ``output`` is itself a withdrawn file (never withdrawn twice)."""
    return output.stem.endswith(f".{STALE_MARK}")


def newest(paths: Iterable[Path]) -> Path | None:
    """The most recently modified existing file of ``paths``, or None."""
    existing = [path for path in paths if path.is_file()]
    return max(existing, key=lambda path: path.stat().st_mtime_ns, default=None)


def withdraw_stale_outputs(output_dir: Path, inputs: Iterable[Path]) -> list[tuple[Path, Path, Path]]:
    """Rename every output in ``output_dir`` older than the newest of ``inputs``.

    Returns ``(output, renamed_to, newest_input)`` per withdrawn file; nothing happens when the
    outputs are at least as new as every input (a failure that did not outdate the paper) or when
    there are no outputs.
    """
    latest = newest(inputs)
    if latest is None or not output_dir.is_dir():
        return []
    threshold = latest.stat().st_mtime_ns
    withdrawn = []
    for output in sorted(output_dir.iterdir()):
        if output.is_file() and not is_withdrawn(output) and output.stat().st_mtime_ns < threshold:
            target = withdrawn_name(output)
            output.replace(target)
            withdrawn.append((output, target, latest))
    return withdrawn


def withdraw_before_rebuild(output_dir: Path, outputs: Iterable[Path]) -> list[tuple[Path, Path]]:
    """Rename each existing file of ``outputs`` that lies in ``output_dir``; returns ``(output, renamed_to)``.

    Snakemake deletes a job's outputs before the job runs, so a paper withdrawn only after a failed
    render would be gone. The Snakefile calls this in ``onstart`` with the outputs of the jobs about to
    run: a paper that the build renders again is out of date by Snakemake's own judgement.
    """
    withdrawn = []
    for output in sorted(set(outputs)):
        if output.parent == output_dir and output.is_file() and not is_withdrawn(output):
            target = withdrawn_name(output)
            output.replace(target)
            withdrawn.append((output, target))
    return withdrawn


def report_rebuild(withdrawn: Sequence[tuple[Path, Path]]) -> str:
    """The message when the paper is withdrawn before it is made again; empty when nothing was."""
    return "\n".join(f"Withdrew {output} while the build makes it again from changed sources: now {target} "
                     "(deleted once the new one is written)." for output, target in withdrawn)


def discard_replaced(output_dir: Path) -> list[Path]:
    """Delete each withdrawn file of ``output_dir`` whose current file exists again and is newer."""
    discarded = []
    for path in sorted(output_dir.glob(f"*.{STALE_MARK}.*")) if output_dir.is_dir() else []:
        current = path.with_name(path.name.replace(f".{STALE_MARK}.", ".", 1))
        if current.is_file() and current.stat().st_mtime_ns >= path.stat().st_mtime_ns:
            path.unlink()
            discarded.append(path)
    return discarded


def report(withdrawn: Sequence[tuple[Path, Path, Path]]) -> str:
    """The message printed after a failed build; empty when nothing was withdrawn."""
    return "\n".join(
        f"Withdrew {output} (older than {source}, so it does not show the current data): now {target}. "
        "Fix the error above and rebuild."
        for output, target, source in withdrawn
    )
