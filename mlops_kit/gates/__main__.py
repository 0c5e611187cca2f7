"""``python -m mlops_kit.gates``: see :mod:`mlops_kit.gates.cli`."""

import sys

from mlops_kit.gates.cli import main

sys.exit(main())
