"""The governed repo's files: specs, policies, releases, read and cross-checked (no data, no model).

``yamlio`` reads YAML with locations, ``schema`` holds the pydantic models of specs, policies
and releases, ``policies`` resolves ``extends:`` chains, ``workspace`` finds the repo and loads a
model's context, ``release`` edits ``release.yaml``, ``affected`` lists the models a change
touches (the propose matrix). What loading needs to know about rules lives here too, so config
imports no layer above it: ``catalog`` (every metric a rule can name), ``estimators`` (which
estimator classes and params a spec may name), ``lineage`` (tag names and content hashes).
"""
