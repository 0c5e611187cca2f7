"""mlops_kit: the library the seven course modules build, one part per lifecycle stage.

Parts, in dependency order (later parts may use earlier ones, never the reverse):
``domain`` (what a raw order is), ``io`` and ``manifest`` (atomic files and their hashes),
``data`` (loading shipped or generated batches), ``validation`` (module 1).
Heavy libraries (mlflow, evidently) are imported only by the parts that need them.
"""

__version__ = "0.1.0"
