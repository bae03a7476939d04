"""xgboost models -> ir.Model (not written yet)."""
LIBRARY = "xgboost"
CLASSES = {}
