"""The evaluation report of a model version: figures from its holdout, plots, one HTML page."""
