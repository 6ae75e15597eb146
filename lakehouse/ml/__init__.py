"""Price forecasting: features shared by training and the silver stream, training, registry, scoring."""
