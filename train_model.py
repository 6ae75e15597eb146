#!/usr/bin/env python
"""Train the price forecaster on silver history and track it in MLflow (see lakehouse/ml)."""

from lakehouse.ml.cli import run

if __name__ == "__main__":
    run()
