"""Training: fit a model from its spec and register it.

``train`` fits, logs and registers; ``estimator`` builds the pipeline; ``lineage`` is the
provenance recorded on every version.
"""
