"""The `transpile` command: parse options, call the API, turn errors into exit codes."""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Annotated, Optional

import typer

from . import LANGUAGES, __version__
from .errors import OptionError, TranspilerError

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


def write_output(files: dict, out_dir: str) -> None:
    """Write every file into out_dir, or none: files are staged beside it, then moved in."""
    out_dir = os.path.abspath(out_dir)
    parent = os.path.dirname(out_dir)
    try:
        os.makedirs(parent, exist_ok=True)
        stage = tempfile.mkdtemp(prefix=".transpile-", dir=parent)
    except OSError as exc:
        raise OptionError(f"cannot write to {parent}: {exc.strerror}; choose another -o directory") from exc
    try:
        for rel, content in files.items():
            path = os.path.join(stage, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb" if isinstance(content, bytes) else "w", encoding=None if isinstance(content, bytes) else "utf-8") as fh:
                fh.write(content)
        os.makedirs(out_dir, exist_ok=True)
        for rel in files:
            dest = os.path.join(out_dir, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.replace(os.path.join(stage, rel), dest)
    except OSError as exc:
        raise OptionError(f"cannot write to {out_dir}: {exc.strerror}; choose another -o directory") from exc
    finally:
        shutil.rmtree(stage, ignore_errors=True)


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


def list_models() -> None:
    from .load import supported_models

    for library, name in supported_models():
        typer.echo(f"{library:10} {name}")


@app.command()
def transpile(
    model: Annotated[Optional[str], typer.Argument(help="Pickle/joblib file, XGBoost .json/.ubj or LightGBM model.txt.", show_default=False)] = None,
    lang: Annotated[Optional[str], typer.Option("--lang", "-l", help=f"Target language: {', '.join(LANGUAGES)}.", show_default=False)] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", help="Directory to write into (created if missing); default: standard output.", show_default=False)] = None,
    package: Annotated[Optional[str], typer.Option(help="Go package / Java package name. [default: model for Go, none for Java]", show_default=False)] = None,
    function: Annotated[Optional[str], typer.Option(help="Scoring function name. [default: Score for Go, score for C and Java]", show_default=False)] = None,
    class_name: Annotated[Optional[str], typer.Option("--class", help="Java class name. [default: Model]", show_default=False)] = None,
    layout: Annotated[str, typer.Option(help="Trees as branches in code, as node tables, or chosen by size: auto, code, table.")] = "auto",
    models: Annotated[bool, typer.Option("--list-models", help="List the supported models and exit.")] = False,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
    debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
) -> None:
    """Translate MODEL into source code for --lang."""
    if version:
        typer.echo(f"transpiler {__version__}")
        return
    if models:
        list_models()
        return
    try:
        if model is None:
            raise OptionError("missing MODEL: give the model file to translate (see --help)")
        lang = choice(lang, LANGUAGES, "--lang")
        layout = choice(layout, LAYOUTS, "--layout")
        from . import transpile as run

        files = run(model, lang, package=package, function=function,
                    class_name=class_name, layout=layout)
        if output is None:
            print_output(files)
        else:
            write_output(files, output)
    except TranspilerError as exc:
        if debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(exc.exit_code)
    except Exception as exc:  # a bug: say so in one line unless asked for the traceback
        if debug:
            raise
        typer.echo(f"error: internal error {type(exc).__name__}: {exc}; "
                   "rerun with --debug and report it", err=True)
        raise typer.Exit(3)


def main() -> None:
    app()
