"""mlops_kit: the library the seven course modules build, one part per lifecycle stage.

Parts, in dependency order (later parts may use earlier ones, never the reverse):
``domain`` (what a raw order is), ``io``, ``manifest`` and ``artifacts`` (atomic files, their
hashes, each module's folder), ``data`` (loading shipped or generated batches), ``plots``,
``validation`` (module 1), ``features`` and ``pipeline`` (module 2), ``registry`` (module 3).
Heavy libraries (mlflow, evidently) are imported only by the parts that need them.
"""

__version__ = "0.1.0"
