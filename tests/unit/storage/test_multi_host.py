"""Multi-host DSNs (a replicated cluster): how they are split and handed to SQLAlchemy."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]

from rekor_py.storage.db import is_unavailable, split_hosts, to_sqlalchemy_url

DSN = "postgresql://u:p%40w@10.0.0.1:5432,10.0.0.2:5433/log?target_session_attrs=read-write"


def test_split_hosts_keeps_user_database_and_parameters() -> None:
    assert split_hosts(DSN) == [
        "postgresql://u:p%40w@10.0.0.1:5432/log?target_session_attrs=read-write",
        "postgresql://u:p%40w@10.0.0.2:5433/log?target_session_attrs=read-write",
    ]
    single = "postgresql://u:p@h:1/db"
    assert split_hosts(single) == [single]


def test_sqlalchemy_gets_the_hosts_as_parameters() -> None:
    assert to_sqlalchemy_url(DSN) == (
        "postgresql+asyncpg://u:p%40w@/log?host=10.0.0.1:5432&host=10.0.0.2:5433"
        "&target_session_attrs=read-write")
    assert to_sqlalchemy_url("postgresql://u:p@h:1/db") == "postgresql+asyncpg://u:p@h:1/db"


def test_no_writable_host_is_unavailability() -> None:
    # During a promotion every host is a standby: retry later, not a server error.
    assert is_unavailable(asyncpg.exceptions.TargetServerAttributeNotMatched("none"))
    assert is_unavailable(asyncpg.exceptions.ReadOnlySQLTransactionError("read-only"))
