"""The reproducibility bundle (engine/bundle.py) rebuilds the published paper byte for byte, from itself alone.

The slow tests build a copy of the project (made a git repository, as CI's checkout is), bundle it,
unzip the bundle into a folder outside any repository and run the rebuild commands that BUNDLE.md gives.
Both builds hide Quarto from PATH: byte identity is promised for the Pandoc path only. The same build
also gets the provenance report (``snakemake --report``), the other record the publish workflow keeps.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from engine.bundle import OUTPUTS, BundleError, folder_name, render_engine, write_bundle, write_zip
from tests.conftest import REPO, REVIEW, SHEETS
from tests.fixed_git import run_git
from tests.project_copy import build, copy_project

# The review's publication year, so that the commit time is known and far from the clock.
COMMIT_DATE = "2022-05-10T00:00:00+00:00"
COMMIT_EPOCH = 1652140800


def pandoc_path() -> str:
    """PATH without the folders that hold a ``quarto`` (CI installs one), this Python's scripts first."""
    entries = [entry for entry in os.environ.get("PATH", "").split(os.pathsep) if entry]
    kept = [entry for entry in entries if not (Path(entry) / "quarto").exists()]
    return os.pathsep.join([str(Path(sys.executable).parent), *kept])


def pandoc_path_env() -> dict[str, str]:
    """The environment with :func:`pandoc_path` and without SOURCE_DATE_EPOCH."""
    env = {key: value for key, value in os.environ.items() if key != "SOURCE_DATE_EPOCH"}
    return {**env, "PATH": pandoc_path()}


def git(project: Path, *args: str) -> str:
    """Run git in ``project`` with the tests' fixed identity, committing at COMMIT_DATE."""
    return run_git(project, *args, date=COMMIT_DATE)


def rebuild_commands(bundle_md: str) -> list[str]:
    """BUNDLE.md's rebuild commands, without the first one (the environment install: this test's
    interpreter already has the locked packages, and the network is not assumed)."""
    block = re.search(r"```bash\n(.*?)```", bundle_md, re.DOTALL)
    assert block, "BUNDLE.md has no bash block"
    commands = [line for line in block[1].splitlines() if line.strip()]
    assert commands[0].startswith("python3 -m venv .venv"), commands
    return commands[1:]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A built copy of the project, committed to a fresh git repository at COMMIT_DATE."""
    project = copy_project(tmp_path_factory.mktemp("bundle") / "project")
    git(project, "init", "-q")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "build")
    # build() runs Snakemake in the process environment: change that, not a copy of it.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", pandoc_path())
        patch.delenv("SOURCE_DATE_EPOCH", raising=False)
        result = build(project)
    assert result.returncode == 0, result.stderr[-3000:]
    return project


@pytest.fixture(scope="module")
def bundle(built: Path) -> Path:
    """The bundle of the built copy, written where SOURCE_DATE_EPOCH is not the build's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOURCE_DATE_EPOCH", "1")
        return write_bundle(built, built / "_manuscript" / "bundle.zip")


@pytest.fixture(scope="module")
def unzipped(bundle: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundle unzipped into a new folder; returns its top-level folder."""
    target = tmp_path_factory.mktemp("unzipped")
    with zipfile.ZipFile(bundle) as archive:
        archive.extractall(target)
    (folder,) = target.iterdir()
    return folder


@pytest.mark.slow
def test_bundle_holds_sources_data_locks_and_outputs(built: Path, bundle: Path) -> None:
    commit = git(built, "rev-parse", "HEAD").strip()
    folder = folder_name(REVIEW.name, commit)
    assert folder == f"gao-jin-2022-ivig-lv-{commit[:12]}"
    with zipfile.ZipFile(bundle) as archive:
        names = set(archive.namelist())
        for output in OUTPUTS:
            assert archive.read(f"{folder}/outputs/{output}") == (built / output).read_bytes()
    tracked = set(git(built, "ls-files").splitlines())
    assert names == {f"{folder}/{name}" for name in tracked} | {
        f"{folder}/{name}" for name in (*[f"outputs/{o}" for o in OUTPUTS], "outputs/SHA256SUMS", "BUNDLE.md")
    }
    raw = {path.name for path in (built / "data" / "raw").glob("*.csv")}
    assert raw and {f"{folder}/data/raw/{name}" for name in raw} <= names
    locks = ("requirements/paper.txt", "requirements/test.txt", "environment.yml")
    assert {f"{folder}/{name}" for name in (*locks, "Makefile", "Snakefile")} <= names


@pytest.mark.slow
def test_bundle_records_commit_epoch_and_engine(built: Path, unzipped: Path) -> None:
    text = (unzipped / "BUNDLE.md").read_text(encoding="utf-8")
    assert git(built, "rev-parse", "HEAD").strip() in text
    assert f"export SOURCE_DATE_EPOCH={COMMIT_EPOCH}\n" in text
    assert "none: the working tree was the commit" in text
    assert "rendered by | Pandoc" in text
    # The review it is, from the manifest.
    assert f'The build of "{REVIEW.short_title}" (`{REVIEW.name}`) at one commit' in " ".join(text.split())


@pytest.mark.slow
def test_bundle_is_the_same_whatever_the_file_times(built: Path, bundle: Path, tmp_path: Path) -> None:
    for path in (built / "scripts").iterdir():
        os.utime(path, (0, 0))
    again = write_bundle(built, tmp_path / "again.zip")
    assert again.read_bytes() == bundle.read_bytes()


@pytest.mark.slow
def test_rebuild_from_the_bundle_is_byte_identical(unzipped: Path) -> None:
    assert not (unzipped / ".git").exists() and not (unzipped / "results").exists()
    commands = rebuild_commands((unzipped / "BUNDLE.md").read_text(encoding="utf-8"))
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],
        cwd=unzipped,
        env=pandoc_path_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    for output in OUTPUTS:
        assert filecmp.cmp(unzipped / output, unzipped / "outputs" / output, shallow=False), output


@pytest.mark.slow
def test_without_the_export_the_rebuild_still_matches(unzipped: Path, tmp_path: Path) -> None:
    # The folder is no git repository and SOURCE_DATE_EPOCH is not exported: the render takes the commit
    # and the build time from BUNDLE.md, so HTML and PDF still come out byte-identical.
    result = subprocess.run(
        [sys.executable, "-m", "engine.render", "--engine", "pandoc", "--output-dir", str(tmp_path)],
        cwd=unzipped,
        env=pandoc_path_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "index.html").read_bytes() == (unzipped / "outputs/_manuscript/index.html").read_bytes()
    assert (tmp_path / "index.pdf").read_bytes() == (unzipped / "outputs/_manuscript/index.pdf").read_bytes()


def test_zip_is_normalised_and_independent_of_file_times(tmp_path: Path) -> None:
    tool, text = tmp_path / "tool", tmp_path / "text"
    tool.write_text("#!/bin/sh\n")
    text.write_text("data\n")
    tool.chmod(0o700)
    text.chmod(0o600)
    first = tmp_path / "first.zip"
    write_zip(first, {"b/text": text, "a/tool": tool, "c/made": b"bytes"}, COMMIT_EPOCH)
    os.utime(text, (1, 1))
    second = tmp_path / "second.zip"
    write_zip(second, {"c/made": b"bytes", "a/tool": tool, "b/text": text}, COMMIT_EPOCH)
    assert first.read_bytes() == second.read_bytes()
    with zipfile.ZipFile(first) as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == ["a/tool", "b/text", "c/made"]
    assert [info.external_attr >> 16 for info in infos] == [0o100755, 0o100644, 0o100644]
    assert {info.date_time for info in infos} == {(2022, 5, 10, 0, 0, 0)}


def test_zip_clamps_an_epoch_before_1980(tmp_path: Path) -> None:
    write_zip(tmp_path / "old.zip", {"x": b"x"}, 0)
    with zipfile.ZipFile(tmp_path / "old.zip") as archive:
        assert archive.infolist()[0].date_time == (1980, 1, 1, 0, 0, 0)


def test_render_engine_is_read_from_the_generator() -> None:
    assert render_engine('<meta name="generator" content="pandoc" />') == "pandoc"
    assert render_engine('<meta name="generator" content="quarto-1.6.43">') == "quarto-1.6.43"
    assert render_engine("<html></html>") == "unknown"


def test_an_unbuilt_project_is_refused(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q")
    with pytest.raises(BundleError, match="not built yet"):
        write_bundle(tmp_path, tmp_path / "bundle.zip")


@pytest.mark.slow
def test_the_provenance_report_holds_every_output_offline(built: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--report", "_manuscript/report.html"],
        cwd=built,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    page = (built / "_manuscript" / "report.html").read_text(encoding="utf-8")
    results = json.loads(re.search(r"var results = (\{.*?\});\n", page, re.DOTALL)[1])
    tables = ("demographics", "efficacy", "comorbidities", "dose-groups")  # the manifest's tables:
    figures = ("prisma", *REVIEW.figures)  # prisma and the manifest's figures
    assert set(results) == {
        *OUTPUTS,
        *(f"results/validated/{sheet}.csv" for sheet in SHEETS),
        *(f"results/report/tables/{table}.html" for table in tables),
        *(f"results/figures/{figure}.svg" for figure in figures),
    }
    for path, entry in results.items():
        assert entry["data_uri"].startswith("data:"), path
        # A table without its caption in the manifest gets "(no caption in the manifest)".
        assert entry["caption"].strip() and "in the manifest)" not in entry["caption"], path
        # docutils prints a caption's reStructuredText error into the caption itself.
        assert "System Message" not in entry["caption"], path
    assert {results[f"results/report/tables/{table}.html"]["mime_type"] for table in tables} == {"text/html"}
    # Everything is embedded: the report opens from disk without a network.
    assert not re.search(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']?https?:", page)



def fake_built_project(root: Path) -> Path:
    """The least a bundle needs, committed: locks, a raw sheet, and the three outputs (the PDF dated)."""
    import pypdf

    from engine.bundle import LOCKS

    for name, text in (*((lock, "x==1\n") for lock in LOCKS), ("data/raw/a.csv", "a\n1\n"),
                       ("_manuscript/index.html", '<meta name="generator" content="pandoc" />'),
                       ("results/values.yml", "v: {}\n")):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    # The review's manifest (and the schemas it names): the bundle takes the review's name from it.
    shutil.copytree(REPO / "config", root / "config")
    writer = pypdf.PdfWriter()
    writer.add_blank_page(72, 72)
    writer.add_metadata({"/CreationDate": "D:20220510000000Z"})
    with open(root / "_manuscript" / "index.pdf", "wb") as handle:
        writer.write(handle)
    git(root, "init", "-q")
    return root


def test_a_tracked_link_out_of_the_project_is_refused_not_followed(tmp_path: Path) -> None:
    """A tracked data/raw/notes.csv -> a file elsewhere would put that file into the published bundle."""
    secret = tmp_path / "elsewhere" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0\n", encoding="utf-8")
    project = fake_built_project(tmp_path / "project")
    (project / "data" / "raw" / "notes.csv").symlink_to(secret)
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "sources")
    with pytest.raises(BundleError, match=r"symbolic links out of the project \(data/raw/notes.csv -> .*passwd\)"):
        write_bundle(project, project / "_manuscript" / "bundle.zip")
    assert not (project / "_manuscript" / "bundle.zip").exists()


def test_a_tracked_link_inside_the_project_is_stored_as_a_link(tmp_path: Path) -> None:
    project = fake_built_project(tmp_path / "project")
    (project / "data" / "raw" / "alias.csv").symlink_to("a.csv")
    git(project, "add", "-A")
    git(project, "commit", "-q", "-m", "sources")
    bundle = write_bundle(project, project / "_manuscript" / "bundle.zip")
    with zipfile.ZipFile(bundle) as archive:
        (alias,) = [info for info in archive.infolist() if info.filename.endswith("data/raw/alias.csv")]
        assert alias.external_attr >> 16 == 0o120777
        assert archive.read(alias) == b"a.csv"
