"""mlops_kit: the library the seven course modules build, one part per lifecycle stage.

Parts, in dependency order (later parts may use earlier ones, never the reverse; the order is
``LAYERS`` in tests/test_layers.py): ``course`` (the course's shared facts), ``io`` and ``hashing``,
``manifest`` and ``dictionary`` (the feature dictionary, which declares the raw columns),
``domain`` (what a raw order is) and ``artifacts``, ``datagen`` (the seeded generator) and ``plots``,
``data`` (loading shipped or generated batches), ``validation`` (module 1), ``features`` and
``pipeline`` (module 2), ``registry`` (module 3).
Heavy libraries (mlflow, evidently) are imported only by the parts that need them.
"""

__version__ = "0.1.0"
