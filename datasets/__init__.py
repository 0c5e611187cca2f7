"""The course's synthetic food-delivery orders: shipped variant 0, the seeded generator, the datasheet.

``datasets.generate`` makes any variant (``generate_variant``, ``ensure_variant``, CLI
``python -m datasets.generate``); ``mlops_kit.data`` loads a variant's data folder.
"""
