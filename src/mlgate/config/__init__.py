"""The governed repo's files: specs, policies, releases, judging fields, scaffolding.

``yamlio`` reads YAML with locations, ``schema`` holds the pydantic models of specs, policies
and releases, ``policies`` resolves ``extends:`` chains, ``workspace`` finds the repo and loads a
model's context, ``release`` edits ``release.yaml``, ``judging`` says which fields judge a model
(and reads them from a base commit), ``validate`` checks a whole repo, ``affected`` lists the
models a change touches (the propose matrix) and ``scaffold`` writes a new governed repo.
"""
