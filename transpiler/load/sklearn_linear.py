"""scikit-learn linear models -> ir.Model (not written yet)."""
LIBRARY = "sklearn"
CLASSES = {}
