"""``python -m he_learn.cli``: the same as the ``he-learn`` console script."""

import sys

from he_learn.cli import main

sys.exit(main())
