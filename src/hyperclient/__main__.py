"""``python -m hyperclient``: the command line (see ``hyperclient.cli``)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
