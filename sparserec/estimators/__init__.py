"""scikit-learn compatible estimators wrapping sparserec solvers (imported lazily; needs the sklearn extra)."""
