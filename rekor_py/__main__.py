"""`python -m rekor_py` is the `rekor-py` command."""

from rekor_py.cli import main

raise SystemExit(main())
