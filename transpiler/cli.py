"""The `transpile` command: parse options, call the API, turn errors into exit codes."""
from __future__ import annotations

import contextlib
import shlex
import sys
import time
import warnings
from typing import Annotated, Optional

import typer
from typer.core import TyperCommand

from . import LANGUAGES, __version__
from .errors import MismatchError, OptionError, TranspilerError


class Command(TyperCommand):
    """Usage errors (an unknown option, a missing value) as our one line: click's own take three
    (usage, hint, message). Typer may vendor click, so the error is caught by its interface."""

    def parse_args(self, ctx, args):
        try:
            return super().parse_args(ctx, args)
        except Exception as exc:
            if callable(getattr(exc, "format_message", None)):
                line = f"error: {exc.format_message().rstrip('.')}; see transpile --help"
                exc.show = lambda file=None: typer.echo(line, err=True)
            raise


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None,
                  help="Turn a trained model into dependency-free Go, C or Java source.")
LAYOUTS = ("auto", "code", "table")


def choice(value: Optional[str], choices, option: str) -> str:
    """Choices are checked here, not by click, so a wrong one gets our one-line error."""
    if value is None:
        raise OptionError(f"missing {option}: choose one of {', '.join(choices)}")
    if value not in choices:
        raise OptionError(f"unknown {option} {value!r}; choose one of {', '.join(choices)}")
    return value


def write_output(files: dict, out_dir: str, force: bool = False, resources: Optional[str] = None) -> None:
    """All files into out_dir or none; refuses a directory holding others' files unless force.
    Java's Model.bin goes to `resources` when given."""
    from . import write

    write(files, out_dir, force=force, resources=resources)


def one_line(text: str) -> str:
    """A message as one line on the terminal, whatever a path in it holds."""
    return text.replace("\r", "\\r").replace("\n", "\\n")


def notes(caught, model: str) -> list[str]:
    """The warnings worth a `note:` line after a successful run: ours (LoadNote), and the first
    scikit-learn version mismatch (its own warning takes three lines, one per estimator)."""
    from .errors import LoadNote

    out, mismatch = [], False
    for w in caught:
        if issubclass(w.category, LoadNote):
            line = str(w.message)
        elif w.category.__name__ == "InconsistentVersionWarning" and not mismatch:
            msg = w.message
            mismatch = True
            line = (f"{model} holds a {getattr(msg, 'estimator_name', 'model')} pickled by "
                    f"scikit-learn {getattr(msg, 'original_sklearn_version', '?')}, read with "
                    f"{getattr(msg, 'current_sklearn_version', '?')}; check the model still "
                    "predicts as expected")
        else:
            continue
        if line not in out:
            out.append(line)
    return out


def print_output(files: dict) -> None:
    binary = [rel for rel, content in files.items() if isinstance(content, bytes)]
    if binary:
        raise OptionError(f"the output includes binary files ({', '.join(binary)}); "
                          "give a directory with -o")
    many = len(files) > 1
    for rel, content in files.items():
        if many:
            sys.stdout.write(f"// ---- {rel} ----\n")
        sys.stdout.write(content)


def tell(irm, lang: str, layout: str, files: dict, output: Optional[str]) -> None:
    """-v: the layout chosen and why, then each file's size, on standard error."""
    from .emit import explain

    typer.echo(explain(irm, lang, layout), err=True)
    sizes = {rel: len(c.encode() if isinstance(c, str) else c) for rel, c in files.items()}
    for rel, n in sizes.items():
        typer.echo(f"  {rel}: {n:,} bytes", err=True)
    where = f"written to {output}" if output else "printed"
    typer.echo(f"{len(sizes)} file{'s' if len(sizes) != 1 else ''}, {sum(sizes.values()):,} bytes "
               f"{where}", err=True)


def list_models() -> None:
    from .load import supported_models

    for library, name in supported_models():
        typer.echo(f"{library:10} {name}")


@app.command(cls=Command)
def transpile(
    model: Annotated[Optional[str], typer.Argument(help="Pickle/joblib file, XGBoost model (.json, .ubj or legacy binary) or LightGBM model.txt.", show_default=False)] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", "-l", help=f"Target language: {', '.join(LANGUAGES)}.", show_default=False)] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Directory to write into (created if missing); default: standard output.", show_default=False)] = None,
    package: Annotated[Optional[str], typer.Option(help="Go package / Java package name. [default: model for Go, none for Java]", show_default=False)] = None,
    function: Annotated[Optional[str], typer.Option(help="Scoring function name. [default: Score for Go, score for C and Java]", show_default=False)] = None,
    class_name: Annotated[Optional[str], typer.Option("--class", help="Java class name. [default: Model]", show_default=False)] = None,
    layout: Annotated[str, typer.Option(help="Trees as branches in code, as node tables, or chosen by size: auto, code, table.")] = "auto",
    plugin: Annotated[bool, typer.Option("--plugin", help="Go: a package main directory to build with go build -buildmode=plugin.")] = False,
    loader: Annotated[bool, typer.Option("--loader", help="Go: a package that loads model files at run time, and this model's file.")] = False,
    no_selftest: Annotated[bool, typer.Option("--no-selftest", help="Leave out the self-test written beside the model (Go model_test.go, C score_selftest, Java ModelSelfTest).")] = False,
    verify: Annotated[bool, typer.Option("--verify", help="Build the code with the local toolchain, run it on rows and compare with the model; exit 1 on a mismatch.")] = False,
    data: Annotated[Optional[str], typer.Option("--data", help="Rows to verify on (CSV with or without header, .npy, Parquet), besides rows derived from the model. Implies --verify.", show_default=False)] = None,
    label: Annotated[Optional[str], typer.Option("--label", help="The --data header's target column, left out of the rows (label, target, y and class are recognised on their own).", show_default=False)] = None,
    ignore: Annotated[Optional[list[str]], typer.Option("--ignore", help="A --data header column that is not a feature (repeatable).", show_default=False)] = None,
    tolerance: Annotated[Optional[str], typer.Option("--tolerance", help="Allowed difference: a relative error (1e-9), ulps (2ulp) or 0. [default: what the model family allows]", show_default=False)] = None,
    report: Annotated[Optional[str], typer.Option("--report", help="Verification report format: text, json, junit, html (one self-contained page: plots, ulp histogram, first differing rows). [default: text]", show_default=False)] = None,
    check: Annotated[Optional[str], typer.Option("--check", help="Exit 1 if the files in this directory differ from what would be generated now; writes nothing.", show_default=False)] = None,
    resources: Annotated[Optional[str], typer.Option("--resources", help="Java: the directory for the table layout's Model.bin (Maven, Gradle: src/main/resources/<package path>). [default: beside Model.java]", show_default=False)] = None,
    force: Annotated[bool, typer.Option("--force", help="Write into -o even when it holds files the tool did not generate (they are kept).")] = False,
    trust_pickle: Annotated[bool, typer.Option("--trust-pickle", help="Load the pickle with the full pickle module, which can run any code in the file: only for files you trust.")] = False,
    models: Annotated[bool, typer.Option("--list-models", help="List the supported models and exit.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Say on standard error which layout was chosen and why, and the sizes written.")] = False,
) -> None:
    """Translate MODEL into source code for --lang."""
    if version:
        typer.echo(f"transpiler {__version__}")
        return
    if models:
        list_models()
        return
    with warnings.catch_warnings(record=True) as caught:   # libraries' warnings: not ours to print
        warnings.simplefilter("always")
        try:
            if model is None:
                raise OptionError("missing MODEL: give the model file to translate (see --help)")
            lang = choice(lang, LANGUAGES, "--lang")
            layout = choice(layout, LAYOUTS, "--layout")
            names = dict(package=package, function=function, class_name=class_name, layout=layout,
                         plugin=plugin, loader=loader, selftest=not no_selftest)
            load = {"trust_pickle": True} if trust_pickle else {}
            if trust_pickle:
                typer.echo("warning: --trust-pickle: loading the file with the full pickle module, "
                           "which runs any code it holds", err=True)
            if (label or ignore) and not data:
                raise OptionError("--label and --ignore name columns of --data; give --data ROWS")
            if verify or data or tolerance or report or check:
                verify_and_check(model, lang, names, output=output, data=data, tolerance=tolerance,
                                 columns=dict(label=label, ignore=tuple(ignore or ())),
                                 report=report, check=check, verify=verify or bool(data or tolerance or report),
                                 force=force, load=load, resources=resources)
            else:
                from . import to_ir, transpile as run

                irm = to_ir(model, **load)
                files = run(irm, lang, **names)
                if output is None:
                    if resources is not None:   # the tables to their directory, the source to stdout
                        from .outdir import split_resources, write_output as put

                        files, tables = split_resources(files)
                        put(tables, resources, force=force)
                    print_output(files)
                else:
                    write_output(files, output, force=force, resources=resources)
                if verbose:
                    tell(irm, lang, layout, files, output)
            for line in notes(caught, model):
                typer.echo(one_line(f"note: {line}"), err=True)
        except TranspilerError as exc:
            if debug:
                raise
            typer.echo(one_line(f"error: {exc}"), err=True)
            raise typer.Exit(exc.exit_code)
        except Exception as exc:  # a bug: say so in one line unless asked for the traceback
            if debug:
                raise
            typer.echo(one_line(f"error: internal error {type(exc).__name__}: {exc}; "
                                "rerun with --debug and report it"), err=True)
            raise typer.Exit(3)


# --- verify and check ----------------------------------------------------------------------

REPORTS = ("text", "json", "junit", "html")


class StageLines:
    """Verify's progress off a terminal (CI logs): one line per stage on standard error as it
    ends, with what it produced and its seconds."""

    def __init__(self, echo=None):
        self.echo = echo or (lambda line: typer.echo(line, err=True))
        self.stage, self.start = None, 0.0

    def __call__(self, stage: str, **counts) -> None:
        self.finish(counts)
        self.stage, self.start = stage, time.monotonic()

    def finish(self, counts: dict | None = None, done: str = "") -> None:
        if self.stage is None:
            return
        said = ", ".join([f"{v:,} {k}" for k, v in (counts or {}).items()] + ([done] if done else []))
        self.echo(f"verify: {self.stage}: {said + ', ' if said else ''}"
                  f"{time.monotonic() - self.start:.1f} s")
        self.stage = None


@contextlib.contextmanager
def progress_bar(lines: StageLines | None = None):
    """A progress callback for verify's stages: a bar on standard error when it is a terminal,
    else `lines` (a StageLines, or None for silence)."""
    try:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
        terminal = Console(stderr=True).is_terminal
    except ImportError:  # rich comes with typer, but a slim install may lack it
        terminal = False
    if not terminal:
        yield lines
        return
    console = Console(stderr=True)
    from .verify.run import STAGES

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("verify", total=len(STAGES))
        yield lambda stage, **counts: bar.update(task, description=stage,
                                                 completed=STAGES.index(stage))


def regenerate_command(model: str, lang: str, out: str, names: dict, resources, load) -> str:
    """The transpile command that writes DIR as --check expects it: every option given."""
    words = ["transpile", model, "--lang", lang, "-o", out]
    for option, key in (("--package", "package"), ("--function", "function"),
                        ("--class", "class_name")):
        if names.get(key):
            words += [option, names[key]]
    if names.get("layout", "auto") != "auto":
        words += ["--layout", names["layout"]]
    words += [flag for flag, on in (("--plugin", names.get("plugin")),
                                    ("--loader", names.get("loader")),
                                    ("--no-selftest", names.get("selftest") is False),
                                    ("--trust-pickle", (load or {}).get("trust_pickle")))
              if on]
    if resources is not None:
        words += ["--resources", resources]
    return " ".join(shlex.quote(str(w)) for w in words)


def verify_and_check(model: str, lang: str, names: dict, *, output, data, tolerance, report,
                     check, verify: bool, force: bool = False, load: dict | None = None,
                     resources: Optional[str] = None, columns: dict | None = None) -> None:
    """--check DIR and --verify: print what was found; raise MismatchError (exit 1) on drift or
    a mismatch. With -o, the files are written only after verification passed."""
    from .verify import check as checks
    from .verify.report import RENDERERS
    from .verify.run import STAGES, generate, open_subject, verify_files

    fmt = choice(report or "text", REPORTS, "--report")
    if check is not None and output is not None:
        raise OptionError("--check writes nothing; drop -o (or drop --check to write the files)")
    lines = StageLines() if verify else None
    with progress_bar(lines) as progress:   # printing waits until the bar is gone
        if progress:
            progress(STAGES[0])
        subject = open_subject(model, load)
    failures = []
    if check is not None:
        files = generate(subject, lang, **names)
        if resources is None:
            result = checks.check_files(files, check)
        else:   # the sources in DIR, the tables in the resources directory
            from .outdir import split_resources

            sources, tables_files = split_resources(files)     # `data` is the --data rows
            result = checks.check_files(sources, check)
            tables = checks.check_files(tables_files, resources)
            result.missing += [f"{resources}/{rel}" for rel in tables.missing]
            result.changed += [(f"{resources}/{rel}", *rest) for rel, *rest in tables.changed]
            result.same += tables.same
        redo = regenerate_command(model, lang, check, names, resources, load)
        typer.echo(checks.render(result, redo), nl=False, err=fmt != "text")
        if not result.ok:
            failures.append(f"{check} is out of date with {model}: {result.summary()}; "
                            "regenerate it")
    if verify:
        # What is built is byte for byte what -o writes: the same names and files. A plugin
        # or loader is checked as the package it is made from.
        files = generate(subject, lang, **{**names, "plugin": False, "loader": False})
        with progress_bar(lines) as progress:
            result = verify_files(subject, files, lang, rows=data, tolerance=tolerance,
                                  progress=progress,
                                  names={k: names[k] for k in ("package", "function", "class_name")},
                                  **(columns or {}))
            if isinstance(progress, StageLines):
                progress.finish({"values": result.values},
                                f"{result.bit_identical:,} bit-identical, {'OK' if result.ok else 'MISMATCH'}")
        typer.echo(RENDERERS[fmt](result), nl=False)
        if not result.ok:
            failures.append(f"the generated {lang} code differs from the model: {result.summary()}")
    if failures:
        raise MismatchError("; ".join(failures))
    if verify and output is not None:
        plain = not (names["plugin"] or names["loader"])
        write_output(files if plain else generate(subject, lang, **names), output, force=force,
                     resources=resources)


def main() -> None:
    app()
