"""DVC-backed data: each input's DVC record, its fetch and checks, and the honest holdout.

``dvc`` resolves, pulls, loads and checks the files a spec names; ``holdout`` works out which
evaluation rows a version has not trained on; ``model_input`` builds the one frame every model
is called with (training, gates, scoring, serving, monitoring). ``validate`` (``mlgate validate``)
and ``scaffold`` (``mlgate init``) read data, so they live here, above config.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate._lazy import lazy_surface

if TYPE_CHECKING:
    from mlgate.data._dvc import (
        DataAt,
        DataFile,
        ModelData,
        bytes_md5,
        dvc_add,
        dvc_checkout_all,
        dvc_init,
        dvc_pull,
        dvc_push,
        dvc_record,
        fetch_at,
        file_md5,
        load_model_data,
        load_predictions_data,
        prepare_columns,
        pull,
        pull_model_data,
        read_table,
        resolve_dataset,
        resolve_file,
        row_keys,
        share_workspace,
        split,
        split_positions,
        split_settings,
        write_rows,
    )
    from mlgate.data._holdout import (
        HeldOut,
        Unseen,
        evaluation_held_out,
        leave_out,
        training_file,
        training_rows,
        version_held_out,
        version_rows,
    )
    from mlgate.data._model_input import frame_columns, model_input
    from mlgate.data._scaffold import (
        TEMPLATES,
        THIS_REPO,
        WORKFLOWS,
        Audit,
        IdReason,
        WorkflowParams,
        default_name,
        id_reason,
        init_repo,
        render_workflow,
    )
    from mlgate.data._validate import ValidationReport, validate_repo


__all__ = [
    "TEMPLATES",
    "THIS_REPO",
    "WORKFLOWS",
    "Audit",
    "DataAt",
    "DataFile",
    "HeldOut",
    "IdReason",
    "ModelData",
    "Unseen",
    "ValidationReport",
    "WorkflowParams",
    "bytes_md5",
    "default_name",
    "dvc_add",
    "dvc_checkout_all",
    "dvc_init",
    "dvc_pull",
    "dvc_push",
    "dvc_record",
    "evaluation_held_out",
    "fetch_at",
    "file_md5",
    "frame_columns",
    "id_reason",
    "init_repo",
    "leave_out",
    "load_model_data",
    "load_predictions_data",
    "model_input",
    "prepare_columns",
    "pull",
    "pull_model_data",
    "read_table",
    "render_workflow",
    "resolve_dataset",
    "resolve_file",
    "row_keys",
    "share_workspace",
    "split",
    "split_positions",
    "split_settings",
    "training_file",
    "training_rows",
    "validate_repo",
    "version_held_out",
    "version_rows",
    "write_rows",
]

# public name -> its private module (`module:name`, or the module itself)
_LAZY: dict[str, str] = {
    "Audit": "_scaffold:Audit",
    "IdReason": "_scaffold:IdReason",
    "id_reason": "_scaffold:id_reason",
    "DataAt": "_dvc:DataAt",
    "DataFile": "_dvc:DataFile",
    "HeldOut": "_holdout:HeldOut",
    "ModelData": "_dvc:ModelData",
    "TEMPLATES": "_scaffold:TEMPLATES",
    "THIS_REPO": "_scaffold:THIS_REPO",
    "Unseen": "_holdout:Unseen",
    "ValidationReport": "_validate:ValidationReport",
    "WORKFLOWS": "_scaffold:WORKFLOWS",
    "WorkflowParams": "_scaffold:WorkflowParams",
    "bytes_md5": "_dvc:bytes_md5",
    "default_name": "_scaffold:default_name",
    "dvc_add": "_dvc:dvc_add",
    "dvc_checkout_all": "_dvc:dvc_checkout_all",
    "dvc_init": "_dvc:dvc_init",
    "dvc_pull": "_dvc:dvc_pull",
    "dvc_push": "_dvc:dvc_push",
    "dvc_record": "_dvc:dvc_record",
    "evaluation_held_out": "_holdout:evaluation_held_out",
    "fetch_at": "_dvc:fetch_at",
    "file_md5": "_dvc:file_md5",
    "frame_columns": "_model_input:frame_columns",
    "init_repo": "_scaffold:init_repo",
    "leave_out": "_holdout:leave_out",
    "load_model_data": "_dvc:load_model_data",
    "load_predictions_data": "_dvc:load_predictions_data",
    "model_input": "_model_input:model_input",
    "prepare_columns": "_dvc:prepare_columns",
    "pull": "_dvc:pull",
    "pull_model_data": "_dvc:pull_model_data",
    "read_table": "_dvc:read_table",
    "render_workflow": "_scaffold:render_workflow",
    "resolve_dataset": "_dvc:resolve_dataset",
    "resolve_file": "_dvc:resolve_file",
    "row_keys": "_dvc:row_keys",
    "share_workspace": "_dvc:share_workspace",
    "split": "_dvc:split",
    "split_positions": "_dvc:split_positions",
    "split_settings": "_dvc:split_settings",
    "training_file": "_holdout:training_file",
    "training_rows": "_holdout:training_rows",
    "validate_repo": "_validate:validate_repo",
    "version_held_out": "_holdout:version_held_out",
    "version_rows": "_holdout:version_rows",
    "write_rows": "_dvc:write_rows",
}


__getattr__, __dir__ = lazy_surface(globals(), _LAZY, __all__)
