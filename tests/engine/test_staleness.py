"""A failed build withdraws a paper older than its sources (engine/staleness.py), and nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from engine.staleness import report, withdraw_stale_outputs, withdrawn_name, workflow_inputs


def touch(path: Path, mtime: int, text: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


def test_outputs_older_than_an_input_are_renamed(tmp_path: Path) -> None:
    html = touch(tmp_path / "out" / "index.html", 1_000, "old paper")
    pdf = touch(tmp_path / "out" / "index.pdf", 1_000)
    sheet = touch(tmp_path / "data" / "studies.csv", 2_000)
    withdrawn = withdraw_stale_outputs(tmp_path / "out", [sheet])
    assert [(old.name, new.name, source) for old, new, source in withdrawn] == [
        ("index.html", "index.STALE.html", sheet), ("index.pdf", "index.STALE.pdf", sheet)]
    assert not html.exists() and not pdf.exists()
    assert (tmp_path / "out" / "index.STALE.html").read_text(encoding="utf-8") == "old paper"


def test_outputs_as_new_as_every_input_stay(tmp_path: Path) -> None:
    html = touch(tmp_path / "out" / "index.html", 2_000)
    sources = [touch(tmp_path / "a.csv", 1_000), touch(tmp_path / "b.csv", 2_000)]
    assert withdraw_stale_outputs(tmp_path / "out", sources) == []
    assert html.exists()


def test_only_the_outdated_output_goes(tmp_path: Path) -> None:
    touch(tmp_path / "out" / "index.html", 1_000)
    pdf = touch(tmp_path / "out" / "index.pdf", 3_000)
    withdrawn = withdraw_stale_outputs(tmp_path / "out", [touch(tmp_path / "a.csv", 2_000)])
    assert [new.name for _, new, _ in withdrawn] == ["index.STALE.html"]
    assert pdf.exists()


def test_a_withdrawn_file_is_not_withdrawn_again_and_is_replaced_by_a_newer_one(tmp_path: Path) -> None:
    touch(tmp_path / "out" / "index.STALE.html", 500, "older paper")
    touch(tmp_path / "out" / "index.html", 1_000, "old paper")
    withdraw_stale_outputs(tmp_path / "out", [touch(tmp_path / "a.csv", 2_000)])
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["index.STALE.html"]
    assert (tmp_path / "out" / "index.STALE.html").read_text(encoding="utf-8") == "old paper"


def test_no_outputs_or_no_inputs_change_nothing(tmp_path: Path) -> None:
    assert withdraw_stale_outputs(tmp_path / "missing", [touch(tmp_path / "a.csv", 2_000)]) == []
    html = touch(tmp_path / "out" / "index.html", 1_000)
    assert withdraw_stale_outputs(tmp_path / "out", [tmp_path / "not-there.csv"]) == []
    assert html.exists()


def test_workflow_inputs_follow_the_globs_and_skip_the_logs(tmp_path: Path) -> None:
    for name in ("data/raw/a.csv", "scripts/x.py", "scripts/__pycache__/x.cpython-311.pyc",
                 "results/tables/t.md", "results/logs/render.log", "notes.txt"):
        touch(tmp_path / name, 1_000)
    found = workflow_inputs(tmp_path, ["data/raw/*", "scripts/**/*.py", "results/**/*"], exclude_dirs=["results/logs"])
    assert [p.relative_to(tmp_path).as_posix() for p in found] == [
        "data/raw/a.csv", "results/tables/t.md", "scripts/x.py"]


def test_the_name_and_the_message_say_what_happened() -> None:
    assert withdrawn_name(Path("_manuscript/index.pdf")) == Path("_manuscript/index.STALE.pdf")
    message = report([(Path("_manuscript/index.html"), Path("_manuscript/index.STALE.html"),
                       Path("data/raw/studies.csv"))])
    assert message.startswith("Withdrew _manuscript/index.html (older than data/raw/studies.csv")
    assert "now _manuscript/index.STALE.html" in message
    assert report([]) == ""
