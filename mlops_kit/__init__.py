"""mlops_kit: the library the seven course modules build, one part per lifecycle stage.

Parts, in dependency order (later parts may use earlier ones, never the reverse; the order is
``LAYERS`` in tests/test_layers.py): ``course`` (the course's shared facts), ``io``, ``hashing`` and
``processes`` (process groups, dying with the parent),
``manifest`` and ``dictionary`` (the feature dictionary, which declares the raw columns),
``domain`` (what a raw order is) and ``artifacts``, ``datagen`` (the seeded generator) and ``plots``,
``data`` (loading shipped or generated batches), ``validation`` (module 1), ``features`` and
``pipeline`` (module 2), ``registry`` (module 3).
Heavy libraries (mlflow, evidently) are imported only by the parts that need them.

The course runs offline, so MLflow's usage telemetry is off unless ``MLFLOW_DISABLE_TELEMETRY`` says
otherwise: at import MLflow would start threads that try the network (it honours ``DO_NOT_TRACK`` only
when set to ``true``).
"""

import os
import sys

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

if "ipykernel" in sys.modules:
    # A notebook's kernel ends with a cyclic garbage collection over everything the notebook loaded
    # (pandas, scikit-learn, MLflow, SQLAlchemy): 1.5-2 s before papermill, the grader or JupyterLab
    # sees it exit. Freezing the heap at exit skips that pass; the atexit handlers (services stopped,
    # temporary folders removed) have run by then: this one was registered first, so it runs last.
    import atexit
    import gc

    atexit.register(gc.freeze)

__version__ = "0.1.0"
