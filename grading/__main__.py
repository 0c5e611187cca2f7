"""Entry point: ``python -m grading``."""

from grading.cli import main

raise SystemExit(main())
