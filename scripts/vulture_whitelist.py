"""Names vulture reports as unused that are used, each with the reason (``vulture src scripts/vulture_whitelist.py``).

Decorated entry points (click commands, pydantic validators, FastAPI routes and handlers) are
skipped by ``ignore_decorators`` in pyproject.toml's ``[tool.vulture]``, not listed here.
"""

# ruff: noqa
# mypy: ignore-errors
_ = object()

# module-level __getattr__ (PEP 562): Python calls it for lazy attributes of the package
_.__getattr__

# ruamel.yaml loader settings: set as attributes, read inside ruamel
_.preserve_quotes  # mlgate.config.release
_.Scanner  # mlgate.config.yamlio
_.allow_duplicate_keys  # mlgate.config.yamlio

# pydantic: model_config is read by pydantic; the fields are the spec and policy schema. The
# model card and rollback fields are read by name (schema.DOCUMENTATION_FIELDS, the model card
# template) and max_regression through getattr(rule, rule.comparison)
_.model_config
_.intended_use
_.out_of_scope_uses
_.limitations
_.ethical_considerations
_.caveats_and_recommendations
_.license
_.rollback_procedure
_.model_card
_.max_regression
# settings.drift.p_value is accepted and validated but no gate reads it (drift is decided by PSI):
# reported to the lead rather than removed, since removing it would refuse policies that set it
_.p_value

# dataclass fields serialised with dataclasses.asdict into the verdict JSON and the reports
_.chi2_statistic
_.unseen_count
_.reference_rows
_.unseen_distinct

# keeps a TemporaryDirectory alive as long as the model that was loaded from it
_._folder

# Jinja: read by templates (monitoring.md.j2 calls c.mermaid(); report.md.j2 reads rows_dropped)
# and Environment.filters, which Jinja reads
_.mermaid
_.rows_dropped
_.filters

# public API used by tests and benchmarks, not by mlgate's own commands
_.latest_version  # benchmarks/score.py, benchmarks/serve.py, tests/test_atomic_writes.py
_.read_verdict  # tests/test_secrets.py: the stored verdict as mlgate reads it back
_.resolve_alias  # benchmarks/monitor.py
_.pull_request_files  # tests/test_github.py: the client's pagination over a real endpoint

# typed GitHub objects (mlgate.github.objects): fields parsed from GitHub's JSON, read by tests
# (and kept so the object says what GitHub sent)
_.filename  # PullRequestFile, the item type of pull_request_files above
_.closed_at  # Issue

# used outside src: the demo wraps its steps in the CLI's error edge (devkit/mlgate_devkit/demo),
# click calls a ParamType's convert, tests/test_init.py lists the rendered workflows and
# scripts/render-workflows renders this repo's own
_.handled
_.convert
_.WORKFLOWS
_.THIS_REPO

# TypedDict keys of the integrity report tables (mlgate.gates.integrity.native: ColumnNulls,
# UnseenCategories): written into Measurement.details, read by the reports from the verdict JSON
_.nulls
_.train_nulls
_.holdout_nulls
_.new_values

# PEP 562: Python calls a lazy package's module-level __dir__ for dir(package)
_.__dir__

# AuditStore.typed_table: the bulk loader of benchmarks/monitor.py fills the typed table it returns
_.typed_table

# uvicorn's Multiprocess calls it (mlgate.serving._server._Workers overrides it)
_.keep_subprocess_alive

# sqlite3 calls an aggregate class's finalize (mlgate.serving._inputs.TypedWindow._counts_sqlite registers them)
_.finalize

# policy settings read by `mlgate monitor --compare` and the promotion of candidates (issue #24)
_.min_samples
_.alpha
_.max_score_psi
_.max_decision_rate_change
_.max_performance_drop
_.min_duration_seconds
_.candidate_requirement
_.arm_versions

# tarfile.TarInfo fields the evidence bundle fixes (mlgate.evidence._archive): read by tarfile when it writes
_.mtime
_.uid
_.gid
_.uname
_.gname

# zipfile.ZipInfo fields of the site's precompiled templates (mlgate.site._pages.compile_templates): read by zipfile
_.external_attr
_.compress_type

