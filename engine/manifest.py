"""The review manifest (config/review.yaml): what the engine builds for one review.

The engine knows a review only through its manifest: the sheets and their schemas, the cross-sheet rules,
the outcome it pools, the analyses, tables, figures and registry values, and the plug-ins ("module:function"
in the review's own ``scripts/``) for what only that review computes. The manifest is checked against
``engine/schemas/review.schema.yaml`` and then for what a schema cannot say (a rule naming a sheet that is
not declared, a forest plot of an analysis that does not exist); every problem is reported at once, with
the manifest's path and the place in it.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

SCHEMA = Path(__file__).resolve().parent / "schemas" / "review.schema.yaml"
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ManifestError(ValueError):
    """The manifest cannot be used; the message lists every problem."""


@dataclass(frozen=True)
class SheetSpec:
    name: str
    csv: Path
    schema: Path
    optional: bool = False


@dataclass(frozen=True)
class Review:
    """A loaded, checked manifest. Paths are absolute, resolved against the review's folder."""

    root: Path
    path: Path
    document: Mapping[str, Any]
    raw_dir: Path
    bibliography: Path | None
    sheets: tuple[SheetSpec, ...]

    @property
    def name(self) -> str:
        return self.document["review"]["name"]

    @property
    def title(self) -> str:
        return self.document["review"]["title"]

    @property
    def short_title(self) -> str:
        return self.document["review"]["short_title"]

    @property
    def source(self) -> str | None:
        return self.document["review"].get("source")

    @property
    def sheet_names(self) -> tuple[str, ...]:
        return tuple(sheet.name for sheet in self.sheets)

    def sheet(self, name: str) -> SheetSpec:
        for sheet in self.sheets:
            if sheet.name == name:
                return sheet
        raise KeyError(f"{self.path}: no sheet {name!r} is declared (sheets: {', '.join(self.sheet_names)})")

    @property
    def rules(self) -> tuple[Mapping[str, Any], ...]:
        return tuple(self.document.get("rules", ()))

    def rules_of(self, sheet: str) -> tuple[Mapping[str, Any], ...]:
        return tuple(rule for rule in self.rules if rule["sheet"] == sheet)

    def dependencies(self, sheet: str) -> tuple[str, ...]:
        """The other sheets the rules of ``sheet`` read, in declaration order."""
        found: list[str] = []
        for rule in self.rules_of(sheet):
            for other in _sheets_read(rule):
                if other != sheet and other not in found:
                    found.append(other)
        return tuple(found)

    @property
    def cites(self) -> bool:
        """Whether a rule checks citation keys against the bibliography."""
        return any(rule["check"] == "citation" for rule in self.rules)

    @property
    def prisma(self) -> Path | None:
        return self.raw_dir / "prisma.csv" if self.document.get("prisma") else None

    @property
    def claims(self) -> Path | None:
        claims = self.document.get("claims")
        return self.root / claims if claims else None

    @property
    def outcome(self) -> Mapping[str, Any]:
        return self.document["outcome"]

    @property
    def analyses(self) -> Mapping[str, Any]:
        return self.document.get("analyses", {})

    @property
    def tables(self) -> Mapping[str, Mapping[str, Any]]:
        return self.document.get("tables", {})

    @property
    def figures(self) -> Mapping[str, Mapping[str, Any]]:
        return self.document.get("figures", {})

    @property
    def forest_plots(self) -> dict[str, str]:
        """Figure name -> the key of the analysis it plots."""
        return {name: spec["forest"] for name, spec in self.figures.items() if "forest" in spec}

    @property
    def analysis_plugins(self) -> tuple[str, ...]:
        """The plug-ins the analyses derive columns with (their modules are inputs of the analysis job)."""
        specs = [*self.analyses.get("sensitivity", []), *self.analyses.get("subgroups", [])]
        return tuple(plugin for spec in specs for plugin in spec.get("derive", {}).values())

    @property
    def plugin_figures(self) -> dict[str, Mapping[str, Any]]:
        return {name: spec for name, spec in self.figures.items() if "plugin" in spec}

    @property
    def values(self) -> Mapping[str, Any]:
        return self.document.get("values", {})

    def sheets_of_table(self, name: str) -> tuple[str, ...]:
        return tuple(self.tables[name]["sheets"])

    def with_raw_dir(self, raw_dir: Path, bibliography: Path | None = None) -> Review:
        """The same review read from other sheets (a copy broken on purpose, a synthetic review)."""
        raw_dir = Path(raw_dir).resolve()
        sheets = tuple(replace(sheet, csv=raw_dir / sheet.csv.name) for sheet in self.sheets)
        return replace(self, raw_dir=raw_dir, sheets=sheets,
                       bibliography=bibliography if bibliography is not None else self.bibliography)

    def plugin(self, reference: str) -> Callable[..., Any]:
        """The function a manifest's "module:function" names, imported from the review's folder."""
        return load_plugin(reference, self.root)


def _sheets_read(rule: Mapping[str, Any]) -> Iterator[str]:
    for name in ("target", "equals"):
        if name in rule:
            yield rule[name].split(".")[0]
    bound = rule.get("bound", "")
    if "." in bound:
        yield bound.split(".")[0]
    yield from rule.get("reads", ())


def load_plugin(reference: str, root: Path) -> Callable[..., Any]:
    module_name, _, function = reference.partition(":")
    folder = str(Path(root).resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ManifestError(f"plug-in {reference!r}: cannot import {module_name} from {folder} ({error})") from error
    found = getattr(module, function, None)
    if not callable(found):
        raise ManifestError(f"plug-in {reference!r}: {module_name} has no function {function!r}")
    return found


def _schema_problems(document: Any) -> list[str]:
    from jsonschema import Draft202012Validator

    with open(SCHEMA, encoding="utf-8") as handle:
        schema = yaml.load(handle, Loader=YAML_LOADER)
    problems = []
    for error in sorted(Draft202012Validator(schema).iter_errors(document), key=lambda e: list(map(str, e.path))):
        where = "/".join(str(part) for part in error.path) or "(top level)"
        problems.append(f"{where}: {error.message}")
    return problems


def _declared(sheets: Sequence[str], name: str, where: str) -> list[str]:
    return [] if name in sheets else [f"{where}: sheet {name!r} is not declared under sheets"]


def _reference_problems(document: Mapping[str, Any]) -> list[str]:
    """What the schema cannot check: every sheet, analysis and column reference resolves."""
    sheets = list(document["sheets"])
    problems: list[str] = []
    for index, rule in enumerate(document.get("rules", [])):
        where = f"rules/{index}"
        problems += _declared(sheets, rule["sheet"], where)
        for other in _sheets_read(rule):
            problems += _declared(sheets, other, where)
    for part in ("key", "events", "total"):
        problems += _declared(sheets, document["outcome"][part].split(".")[0], f"outcome/{part}")
    analyses = document.get("analyses", {})
    keys = [analysis["key"] for analysis in
            ([analyses["overall"]] if "overall" in analyses else []) + analyses.get("sensitivity", [])
            + analyses.get("subgroups", []) + analyses.get("rates", [])]
    for key in {key for key in keys if keys.count(key) > 1}:
        problems.append(f"analyses: the key {key!r} is used by more than one analysis")
    for group in ("sensitivity", "subgroups", "rates"):
        for index, analysis in enumerate(analyses.get(group, [])):
            sheet = analysis.get("sheet") or analysis.get("rows", {}).get("sheet")
            if sheet:
                problems += _declared(sheets, sheet, f"analyses/{group}/{index}")
    subgroup_keys = {analysis["key"] for analysis in analyses.get("subgroups", [])}
    plottable = subgroup_keys | {analysis["key"] for analysis in
                                 ([analyses["overall"]] if "overall" in analyses else [])
                                 + analyses.get("sensitivity", [])}
    for name, figure in document.get("figures", {}).items():
        if "forest" in figure and figure["forest"] not in plottable:
            problems.append(f"figures/{name}/forest: no analysis has the key {figure['forest']!r}"
                            f" (analyses: {', '.join(sorted(plottable)) or 'none'})")
        for sheet in figure.get("sheets", []):
            problems += _declared(sheets, sheet, f"figures/{name}/sheets")
    for name, table in document.get("tables", {}).items():
        for sheet in table["sheets"]:
            problems += _declared(sheets, sheet, f"tables/{name}/sheets")
    for index, described in enumerate(document.get("values", {}).get("describe", [])):
        problems += _declared(sheets, described["column"].split(".")[0], f"values/describe/{index}")
    return problems


def load_review(path: Path, raw_dir: Path | None = None, bibliography: Path | None = None) -> Review:
    """Read and check a manifest; ``raw_dir`` defaults to ``data/raw`` beside it."""
    path = Path(path).resolve()
    root = path.parent.parent if path.parent.name == "config" else path.parent
    if not path.is_file():
        raise ManifestError(f"{path}: the review manifest does not exist")
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=YAML_LOADER)
    except yaml.YAMLError as error:
        raise ManifestError(f"{path}: not valid YAML ({error})") from error
    problems = _schema_problems(document)
    if not problems:
        problems = _reference_problems(document)
    raw = Path(raw_dir).resolve() if raw_dir is not None else root / "data" / "raw"
    specs = tuple(SheetSpec(name, raw / f"{name}.csv", root / "config" / "schemas" / f"{name}.schema.yaml",
                            bool(options.get("optional", False)))
                  for name, options in (document.get("sheets") or {}).items()) if not problems else ()
    problems += [f"sheets/{spec.name}: its schema {spec.schema} does not exist" for spec in specs
                 if not spec.schema.is_file()]
    if problems:
        raise ManifestError("\n".join([f"{path}: {len(problems)} problem(s) in the review manifest",
                                       *(f"  - {problem}" for problem in problems)]))
    bib = Path(bibliography).resolve() if bibliography is not None else None
    return Review(root, path, document, raw, bib, specs)


@dataclass(frozen=True)
class Where:
    """A row filter of the manifest (see the schema's ``where``)."""

    conditions: Mapping[str, Any] = field(default_factory=dict)

    def mask(self, frame: Any) -> Any:
        """A boolean Series over a DataFrame's rows; missing values never match, except ``not_in``."""
        import pandas

        selected = pandas.Series(True, index=frame.index)
        for column, condition in self.conditions.items():
            values = frame[column]
            if isinstance(condition, list):
                test = values.isin(condition)
            elif isinstance(condition, dict):
                (operator, operand), = condition.items()
                test = (~values.isin(operand) if operator == "not_in" else
                        {"gt": values.gt, "ge": values.ge, "lt": values.lt, "le": values.le,
                         "ne": values.ne}[operator](operand))
            else:
                test = values == condition
            selected &= test.fillna(False).astype(bool)
        return selected

    def apply(self, frame: Any) -> Any:
        return frame[self.mask(frame)] if self.conditions else frame
