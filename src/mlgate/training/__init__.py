"""Training: fit a model from its spec and register it.

``train`` fits, logs and registers; ``estimator`` builds the pipeline; ``record`` is what a
trained version records (lineage, run params, tags); ``command`` runs a spec's own training command.
"""
