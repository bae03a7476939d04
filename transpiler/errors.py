"""Errors the tool reports to users. Every message says what to do next.

The CLI turns any TranspilerError into its one-line message and `exit_code`; anything else
is a bug and shows a traceback only with --debug.
"""


class TranspilerError(Exception):
    """Base class: a problem with the user's input or environment, not a bug in the tool."""

    exit_code = 2


class InputError(TranspilerError):
    """The model file is missing, unreadable, corrupt, or not a model."""


class UnsupportedModelError(TranspilerError):
    """The model (class, objective, option) is one the tool does not translate."""


class MissingDependencyError(TranspilerError):
    """A library needed to read this input is not installed."""


class OptionError(TranspilerError):
    """A command-line or API option is invalid."""


class BuildError(TranspilerError):
    """A toolchain failed to build or run generated code."""


class LoadNote(UserWarning):
    """Something about a model that loaded which the user should know (the CLI prints it as
    one `note:` line), such as a scikit-learn version mismatch."""


class MismatchError(TranspilerError):
    """Generated code gave numbers different from the Python model."""

    exit_code = 1


def unsupported(obj_or_name, detail: str = "") -> UnsupportedModelError:
    """The standard message for a model class the tool does not know."""
    name = obj_or_name if isinstance(obj_or_name, str) else type(obj_or_name).__name__
    extra = f" ({detail})" if detail else ""
    return UnsupportedModelError(
        f"unsupported model {name}{extra}; run `transpile --list-models` for the supported ones")


def require(module: str, extra: str):
    """Import an optional library, or say which extra to install."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"reading this model needs {module}, which is not installed; "
            f"run `pip install 'transpiler-ml[{extra}]'`") from exc
