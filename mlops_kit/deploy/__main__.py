"""``python -m mlops_kit.deploy``: see :mod:`mlops_kit.deploy.cli`."""

import sys

from mlops_kit.deploy.cli import main

sys.exit(main())
