"""Stage 5: build and run generated code, and compare it with the Python model."""
