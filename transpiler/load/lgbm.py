"""lightgbm models -> ir.Model (not written yet)."""
LIBRARY = "lightgbm"
CLASSES = {}
