"""Module 2, data & feature pipelines: declared stages, content-hash caching, lineage, atomic outputs.

Typical use::

    pipeline = Pipeline([
        Stage("ingest", ingest_orders, params={...}),
        Stage("validate", validate_orders, inputs=["ingest"], params={...}),
        ...
    ])                                  # or orders_pipeline(data_dir), the reference
    result = pipeline.run(workdir)      # cached stages are skipped; a run record is written
    result.table()                      # status, rows in/out, cache key, output hash per stage

    fs = ensure_feature_set(artifacts_dir, data_dir, variant)   # what modules 3+ use
    fs.train, fs.valid, fs.dictionary, fs.feature_set_version, fs.data_version

One job per file: ``hashing`` (content hashes), ``stage``, ``cache`` (atomic entries),
``notify`` (failure hook), ``engine`` (Pipeline, RunResult, run records), ``split``,
``orders`` (the reference stages), ``feature_set`` (publishing and ensure_feature_set),
``graph`` (a picture of the stages).
"""

from mlops_kit.hashing import code_version, frame_hash, hash_value, output_hash
from mlops_kit.pipeline.cache import Cache, CacheEntry, StageOutputError
from mlops_kit.pipeline.engine import (
    LATEST_RECORD,
    RUNS_FOLDER,
    STATUSES,
    Pipeline,
    RunResult,
    list_runs,
    read_run_record,
)
from mlops_kit.pipeline.errors import (
    FeatureSetError,
    PipelineDefinitionError,
    PipelineError,
    SplitLeakageError,
    StageFailed,
)
from mlops_kit.pipeline.feature_set import (
    FEATURE_SET_FILES,
    MODULE_ID,
    FeatureSet,
    build_feature_set,
    ensure_feature_set,
    feature_matrix,
    load_feature_set,
    publish_feature_set,
    write_feature_set_manifest,
)
from mlops_kit.pipeline.graph import draw_split, draw_stage_graph
from mlops_kit.pipeline.notify import NOTIFICATIONS_FILE, NotificationLog, StageFailure, read_notifications
from mlops_kit.pipeline.orders import (
    STAGE_NAMES,
    build_features,
    features_stage,
    ingest_orders,
    ingest_stage,
    orders_pipeline,
    split_stage,
    validate_orders,
    validate_stage,
)
from mlops_kit.pipeline.split import DEFAULT_VALID_MONTHS, check_split, time_split, valid_period_start
from mlops_kit.pipeline.stage import Output, Stage
from mlops_kit.pipeline.upstream import UpstreamChoice, upstream_validate_stage

__all__ = [
    "DEFAULT_VALID_MONTHS",
    "FEATURE_SET_FILES",
    "LATEST_RECORD",
    "MODULE_ID",
    "NOTIFICATIONS_FILE",
    "RUNS_FOLDER",
    "STAGE_NAMES",
    "STATUSES",
    "Cache",
    "CacheEntry",
    "FeatureSet",
    "FeatureSetError",
    "NotificationLog",
    "Output",
    "Pipeline",
    "PipelineDefinitionError",
    "PipelineError",
    "RunResult",
    "SplitLeakageError",
    "Stage",
    "StageFailed",
    "StageFailure",
    "StageOutputError",
    "UpstreamChoice",
    "build_feature_set",
    "build_features",
    "check_split",
    "code_version",
    "draw_split",
    "draw_stage_graph",
    "ensure_feature_set",
    "feature_matrix",
    "features_stage",
    "frame_hash",
    "hash_value",
    "ingest_orders",
    "ingest_stage",
    "list_runs",
    "load_feature_set",
    "orders_pipeline",
    "output_hash",
    "publish_feature_set",
    "read_notifications",
    "read_run_record",
    "split_stage",
    "time_split",
    "upstream_validate_stage",
    "valid_period_start",
    "validate_orders",
    "validate_stage",
    "write_feature_set_manifest",
]
