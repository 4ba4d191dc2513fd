"""storage.db.is_unavailable: which failures are "the database is down now" (503), which are bugs (500)."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]
import pytest

from rekor_py.storage.db import is_unavailable


def _raised_while_handling(first: BaseException, second: BaseException) -> BaseException:
    try:
        try:
            raise first
        except BaseException:
            raise second  # noqa: B904 - the implicit __context__ is the point
    except BaseException as e:
        return e


@pytest.mark.parametrize("error, unavailable", [
    (ConnectionRefusedError(111, "refused"), True),
    (ConnectionResetError(104, "reset"), True),
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), True),
    (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), True),
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), True),
    (asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"), True),
    (asyncpg.exceptions.InternalClientError("cannot switch to state 12; another operation (2) is in progress"), True),
    (asyncpg.exceptions.InterfaceError("cannot call Transaction.__aexit__(): "
                                       "the underlying connection is closed"), True),
    # Bugs and bad data stay 500s.
    (asyncpg.exceptions.UniqueViolationError("duplicate key"), False),
    (asyncpg.exceptions.InterfaceError("cannot perform operation: another operation is in progress"), False),
    (asyncpg.exceptions.InternalClientError("unexpected"), False),
    (ValueError("x"), False),
])
def test_classification(error: BaseException, unavailable: bool) -> None:
    assert is_unavailable(error) is unavailable


def test_chained_causes_and_contexts_are_followed() -> None:
    dropped = asyncpg.exceptions.ConnectionDoesNotExistError("closed")
    assert is_unavailable(_raised_while_handling(dropped, RuntimeError("rollback failed")))
    wrapped = RuntimeError("batch failed")
    wrapped.__cause__ = OSError(111, "refused")
    assert is_unavailable(wrapped)
    assert not is_unavailable(_raised_while_handling(KeyError("k"), RuntimeError("r")))
