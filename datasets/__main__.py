"""``python -m datasets --variant N --out DIR``: same as ``python -m datasets.generate``."""

import sys

from datasets.generate import main

sys.exit(main())
