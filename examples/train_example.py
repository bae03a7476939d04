"""Train the small example model shipped as examples/iris_forest.pkl.

    python examples/train_example.py     # rewrites examples/iris_forest.pkl
"""
import os
import pickle

from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

X, y = load_iris(return_X_y=True)
model = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "iris_forest.pkl"), "wb") as fh:
    pickle.dump(model, fh)
