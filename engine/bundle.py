"""The reproducibility bundle: one zip from which a reviewer rebuilds the published paper offline.

Usage (after a build)::

    python -m engine.bundle --out _manuscript/bundle.zip

The zip holds, under one top-level folder named after the commit:

* the project's tracked sources (``git ls-files``: code, configuration, manuscript, tests, ``data/raw/``,
  the pip locks ``requirements/paper.txt`` and ``requirements/test.txt`` and the conda ``environment.yml``),
  as they are in the working tree;
* ``outputs/``: the published outputs (``_manuscript/index.html``, ``_manuscript/index.pdf``,
  ``results/values.yml``) and ``outputs/SHA256SUMS``, their hashes under their build paths;
* ``BUNDLE.md``: the commit, any uncommitted changes, the ``SOURCE_DATE_EPOCH`` of the build (read from
  the PDF's creation date, which the render step sets to it), the render engine (the HTML's generator),
  and the commands that rebuild the outputs and check them against the hashes.

The bundle needs git: its provenance is the commit, and ``git ls-files`` is the list of sources (a
build's outputs and caches are never tracked). The zip is deterministic: entries sorted, every
timestamp the build's ``SOURCE_DATE_EPOCH``, permissions 644 (755 for executables), fixed compression.
Exit status: 0 on success, 1 on any failure (message on stderr).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pypdf

from engine.atomic import atomic_path

OUTPUTS = ("_manuscript/index.html", "_manuscript/index.pdf", "results/values.yml")
LOCKS = ("requirements/paper.txt", "requirements/test.txt", "environment.yml")
OUTPUTS_DIR = "outputs"
MANIFEST = "config/review.yaml"
GENERATOR = re.compile(r'<meta\s+name="generator"\s+content="(?P<name>[^"]+)"')
# Zip stores local date-times from 1980 to 2107; an epoch outside is clamped into that range.
ZIP_EPOCH_RANGE = (datetime(1980, 1, 1, tzinfo=UTC), datetime(2107, 12, 31, 23, 59, 58, tzinfo=UTC))


class BundleError(Exception):
    """The bundle cannot be written; the message says why."""


@dataclass(frozen=True)
class Provenance:
    """Where the bundled outputs come from."""

    commit: str
    status: tuple[str, ...]
    epoch: int
    engine: str
    name: str  # the review's slug and title, from its manifest (config/review.yaml)
    title: str


def _git(root: Path, *args: str) -> str:
    git = shutil.which("git")
    if git is None:
        raise BundleError("git not found: the bundle records the commit it was built from")
    result = subprocess.run([git, *args], cwd=root, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BundleError(f"git {' '.join(args)} failed in {root}: {result.stderr.strip()}")
    return result.stdout


def tracked_files(root: Path) -> list[str]:
    """The files and symbolic links git tracks under ``root`` that exist in the working tree, sorted (a link is
    stored as a link, to a file or to a folder, such as a review's ``_extensions`` link)."""
    names = _git(root, "ls-files", "-z").split("\0")
    return sorted(name for name in names if name and ((root / name).is_symlink() or (root / name).is_file()))


def links_out_of(root: Path, names: Sequence[str]) -> list[tuple[str, Path]]:
    """The symbolic links among ``names`` that lead out of ``root``, with where they lead.

    Zipped as regular files, they would publish the file they point to (a tracked ``data/raw/notes.csv ->
    /etc/passwd`` would put the machine's password file in the bundle); links inside the project are
    stored as links, as git stores them.
    """
    resolved_root = root.resolve()
    return [(name, (root / name).resolve()) for name in names
            if (root / name).is_symlink() and not (root / name).resolve().is_relative_to(resolved_root)]


def render_engine(html: str) -> str:
    """The generator the HTML names: ``pandoc`` for the Pandoc path, ``quarto-X.Y.Z`` for Quarto."""
    match = GENERATOR.search(html)
    return match["name"] if match else "unknown"


def build_epoch(pdf: Path) -> int:
    """The SOURCE_DATE_EPOCH the PDF was rendered with: both engines make it the PDF's creation date.

    Read from the PDF rather than from this process's environment, which need not be the build's.
    """
    metadata = pypdf.PdfReader(pdf).metadata
    created = metadata.creation_date if metadata else None
    if created is None:
        raise BundleError(f"{pdf} has no creation date: cannot tell the build's SOURCE_DATE_EPOCH")
    # A PDF date without a zone is taken as UTC, as SOURCE_DATE_EPOCH is.
    return int((created if created.tzinfo else created.replace(tzinfo=UTC)).timestamp())


def provenance(root: Path) -> Provenance:
    """Commit, working-tree status, the build's SOURCE_DATE_EPOCH and the render engine."""
    status = _git(root, "status", "--porcelain").splitlines()
    html = (root / OUTPUTS[0]).read_text(encoding="utf-8")
    review = _review_of(root)
    return Provenance(
        commit=_git(root, "rev-parse", "HEAD").strip(),
        status=tuple(sorted(line.strip() for line in status)),
        epoch=build_epoch(root / OUTPUTS[1]),
        engine=render_engine(html),
        name=review.name,
        title=review.short_title,
    )


def _review_of(root: Path):  # -> engine.manifest.Review
    from engine.manifest import ManifestError, load_review

    try:
        return load_review(root / MANIFEST)
    except ManifestError as error:
        raise BundleError(str(error)) from error


def sha256sums(root: Path, names: Sequence[str]) -> str:
    """``sha256sum`` check lines for the files ``names`` under ``root``."""
    return "".join(f"{hashlib.sha256((root / name).read_bytes()).hexdigest()}  {name}\n" for name in names)


def folder_name(name: str, commit: str) -> str:
    """The zip's top-level folder: the review's slug and the commit."""
    return f"{name}-{commit[:12]}"


def bundle_readme(prov: Provenance) -> str:
    """BUNDLE.md: provenance and the commands that rebuild and check the outputs."""
    when = datetime.fromtimestamp(prov.epoch, tz=UTC).isoformat().replace("+00:00", "Z")
    changes = (
        "none: the working tree was the commit"
        if not prov.status
        else "`git status --porcelain`: "
        + ", ".join(f"`{line}`" for line in prov.status)
        + " (untracked `??` files are not in the bundle)"
    )
    if prov.engine == "pandoc":
        engine = "Pandoc and Typst from the pip wheels (no Quarto on PATH); the rebuild below is byte-identical"
        quarto = "Do not put Quarto on PATH: with `quarto` there, the render step uses Quarto instead."
    else:
        engine = f"`{prov.engine}` (Quarto was on PATH)"
        quarto = (
            f"These outputs were rendered by `{prov.engine}`: rebuild with that Quarto on PATH "
            "(`environment.yml` installs Quarto 1.6 with conda). Without Quarto the render step uses "
            "Pandoc and Typst, which give the same text but not the same bytes."
        )
    outputs = "\n".join(f"  - `{OUTPUTS_DIR}/{name}`" for name in OUTPUTS)
    return f"""# Reproducibility bundle

The build of "{prov.title}" (`{prov.name}`) at one commit: its sources,
raw data and dependency locks, and the outputs published from that build.

| | |
|---|---|
| commit | `{prov.commit}` |
| uncommitted changes | {changes} |
| SOURCE_DATE_EPOCH | `{prov.epoch}` ({when}) |
| rendered by | {engine} |

## Contents

- the project's tracked sources (`git ls-files`), among them the extraction sheets `data/raw/`, the
  hash-checked pip locks `requirements/paper.txt` (the build) and `requirements/test.txt` (the build and
  the tests) and the conda environment `environment.yml`; `README.md` explains the project;
- the published outputs, kept apart from the build paths so that a rebuild cannot overwrite them:
{outputs}
- `{OUTPUTS_DIR}/SHA256SUMS`: their SHA-256 hashes under their build paths.

## Rebuild and check

With Python 3.11; the network is needed only for `pip install`. In this folder:

```bash
python3 -m venv .venv && . .venv/bin/activate && pip install --require-hashes -r requirements/paper.txt
export SOURCE_DATE_EPOCH={prov.epoch}
snakemake --cores 4
sha256sum -c {OUTPUTS_DIR}/SHA256SUMS
```

The folder is not a git repository, so the render step takes the commit and the build time (the PDF's
creation date) from this file; exporting `SOURCE_DATE_EPOCH` as above does the same explicitly, and wins
over this file. `make test` then adds the test lock and runs the project's checks.

{quarto}
"""


def _zip_time(epoch: int) -> tuple[int, int, int, int, int, int]:
    low, high = ZIP_EPOCH_RANGE
    moment = min(max(datetime.fromtimestamp(epoch, tz=UTC), low), high)
    # Zip times have a resolution of two seconds.
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second // 2 * 2)


def write_zip(out: Path, entries: Mapping[str, bytes | Path], epoch: int) -> None:
    """Write ``entries`` (archive name -> bytes, or a file to copy) as a deterministic zip."""
    date_time = _zip_time(epoch)
    with atomic_path(out) as partial, zipfile.ZipFile(partial, "w") as archive:
        for name in sorted(entries):
            content = entries[name]
            info = zipfile.ZipInfo(name, date_time=date_time)
            info.create_system = 3  # Unix, so that the permissions below are honoured
            info.compress_type = zipfile.ZIP_DEFLATED
            if isinstance(content, Path) and content.is_symlink():
                # A link is stored as a link (its target path as the entry's data), never followed.
                info.external_attr = 0o120777 << 16
                data = os.readlink(content).encode("utf-8")
            else:
                executable = isinstance(content, Path) and content.stat().st_mode & 0o111
                info.external_attr = (0o100755 if executable else 0o100644) << 16
                data = content.read_bytes() if isinstance(content, Path) else content
            archive.writestr(info, data, compresslevel=9)


def write_bundle(root: Path, out: Path) -> Path:
    """Bundle the project at ``root`` and its built outputs into the zip ``out``."""
    root = root.resolve()
    missing = [name for name in OUTPUTS if not (root / name).is_file()]
    if missing:
        raise BundleError(f"not built yet (run snakemake --cores 4): {', '.join(missing)}")
    sources = tracked_files(root)
    escaping = links_out_of(root, [*sources, *OUTPUTS])
    if escaping:
        listing = ", ".join(f"{name} -> {target}" for name, target in escaping)
        raise BundleError(f"symbolic links out of the project ({listing}): the bundle would publish the files "
                          "they point to. Replace each link by a copy of the file if it belongs to the review, or "
                          "remove it (git rm)")
    absent = [
        name for name in (*LOCKS, "data/raw") if not any(s == name or s.startswith(f"{name}/") for s in sources)
    ]
    if absent:
        raise BundleError(f"not tracked by git: {', '.join(absent)}")
    prov = provenance(root)
    folder = folder_name(prov.name, prov.commit)
    entries: dict[str, bytes | Path] = {f"{folder}/{name}": root / name for name in sources}
    entries.update({f"{folder}/{OUTPUTS_DIR}/{name}": root / name for name in OUTPUTS})
    entries[f"{folder}/{OUTPUTS_DIR}/SHA256SUMS"] = sha256sums(root, OUTPUTS).encode("utf-8")
    entries[f"{folder}/BUNDLE.md"] = bundle_readme(prov).encode("utf-8")
    write_zip(out, entries, prov.epoch)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit status."""
    parser = argparse.ArgumentParser(prog="python -m engine.bundle", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="the zip to write, e.g. _manuscript/bundle.zip")
    parser.add_argument("--root", type=Path, default=Path("."), help="the built project (default: .)")
    args = parser.parse_args(argv)
    try:
        out = write_bundle(args.root, args.out)
    except (BundleError, OSError) as error:
        print(f"bundle: {error}", file=sys.stderr)
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
