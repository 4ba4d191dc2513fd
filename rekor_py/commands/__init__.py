"""`rekor-py` subcommands beyond serve/migrate, one module per family.

Each module has `register(subparsers) -> None`, which adds its subcommands with
`set_defaults(handler=<function(args) -> int>)`; cli.py calls every module in
FAMILIES.  The handler's int is the process exit code.
"""

from __future__ import annotations

FAMILIES = ("rekor_py.commands.client", "rekor_py.commands.monitor", "rekor_py.commands.fsck")
