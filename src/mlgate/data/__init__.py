"""DVC-backed data: each input's DVC record, its fetch and checks, and the honest holdout.

``dvc`` resolves, pulls, loads and checks the files a spec names; ``holdout`` works out which
evaluation rows a version has not trained on; ``model_input`` builds the one frame every model
is called with (training, gates, scoring, serving, monitoring). ``validate`` (``mlgate validate``)
and ``scaffold`` (``mlgate init``) read data, so they live here, above config.
"""

from mlgate.data.dvc import (
    DataAt,
    DataFile,
    ModelData,
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
    row_keys,
    share_workspace,
    split,
    split_positions,
    split_settings,
    write_rows,
)
from mlgate.data.holdout import (
    HeldOut,
    Unseen,
    evaluation_held_out,
    leave_out,
    training_rows,
    version_held_out,
    version_rows,
)
from mlgate.data.model_input import frame_columns, model_input

__all__ = [
    "DataAt",
    "DataFile",
    "HeldOut",
    "ModelData",
    "Unseen",
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
    "leave_out",
    "load_model_data",
    "load_predictions_data",
    "model_input",
    "prepare_columns",
    "pull",
    "pull_model_data",
    "read_table",
    "row_keys",
    "share_workspace",
    "split",
    "split_positions",
    "split_settings",
    "training_rows",
    "version_held_out",
    "version_rows",
    "write_rows",
]
