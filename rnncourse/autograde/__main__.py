"""``python -m rnncourse.autograde``: see :mod:`rnncourse.autograde.cli`."""
from .cli import main

raise SystemExit(main())
