"""Development and demo tooling of the mlgate repository; not part of the installed package.

- ``mlgate_devkit.github_stand_in``: a local GitHub REST API that validates every request and
  response against GitHub's OpenAPI description (tests and the demo talk to it);
- ``mlgate_devkit.act``: runs this repository's workflows with nektos/act, offline;
- ``mlgate_devkit.demo``: the end-to-end demo (``scripts/demo``).
"""
