"""The one place the version is written: pyproject reads it (dynamic), the CLI, the generated
code's header and the output manifest print it."""
__version__ = "0.1.0"
