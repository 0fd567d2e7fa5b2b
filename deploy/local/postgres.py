"""PostgreSQL with TimescaleDB (Apache-2 edition): a private cluster in the state dir.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to and runs as `postgres`.
TimescaleDB is built from Debian's source package when the installed server lacks it.

Least privilege: every login needs a password (scram-sha-256), except the cluster's own OS user, which is
the superuser `postgres` over the Unix socket (peer). The database belongs to `wearstream` (runs migrations;
not a superuser); the processors, the API and read-only users have roles of their own (`ROLES`), whose
generated passwords are kept 0600 in `<state_dir>/secrets/<role>.password`. A cluster made by an older
version (trust authentication, `wearstream` a superuser) is left as it is, with a warning: re-create it to
switch (its state dir's `postgres/` removed).
"""

from __future__ import annotations

import os
import pwd
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from deploy.local.errors import StackError
from deploy.local.process import chown_to, pid_alive, run, service_user
from deploy.local.status import ComponentStatus

BUILD_SCRIPT: Final = Path(__file__).parent / "build-timescaledb.sh"
DATABASE: Final = "wearstream"
ROLE: Final = "wearstream"
"""The owner: runs migrations, owns every table."""
ROLES: Final = ("wearstream_processor", "wearstream_api", "wearstream_readonly")
"""Login roles of the processors, the API and read-only users (Grafana, analysts); grants in 0007_roles.sql."""

Log = Callable[[str], None]

SERVER_CONFIG: Final = """
# wearstream local stack
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{socket_dir}'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 200
shared_buffers = 512MB
work_mem = 32MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 15min
wal_compression = on
logging_collector = off
log_min_messages = warning
"""


HBA: Final = """# wearstream local stack: passwords (scram-sha-256) for everyone but the cluster's OS user
local all postgres peer map=stack
local all all scram-sha-256
host all all 127.0.0.1/32 scram-sha-256
host all all ::1/128 scram-sha-256
"""


def password_file(state_dir: Path, role: str) -> Path:
    return state_dir / "secrets" / f"{role}.password"


def read_password(state_dir: Path, role: str) -> str | None:
    """The role's generated password, or None when this stack has none (an older cluster, or not set up)."""
    try:
        return password_file(state_dir, role).read_text().strip() or None
    except OSError:
        return None


def ensure_password(state_dir: Path, role: str) -> str:
    """The role's password, generated (and written 0600) on first use."""
    existing = read_password(state_dir, role)
    if existing is not None:
        return existing
    path = password_file(state_dir, role)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    value = secrets.token_urlsafe(24)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(value + "\n")
    return value


class TimescaleCluster:
    """A PostgreSQL cluster in `<state_dir>/postgres`, with the `wearstream` role and database."""

    name = "timescaledb"

    def __init__(self, *, state_dir: Path, cache_dir: Path, port: int, pg_major: int) -> None:
        self.state_dir = state_dir
        self.home = state_dir / "postgres"
        self.data_dir = self.home / "data"
        self.socket_dir = self.home / "run"
        self.log_file = self.home / "postgres.log"
        self.build_dir = cache_dir / "timescaledb-build"
        self.port = port
        self.bin = Path(f"/usr/lib/postgresql/{pg_major}/bin")
        self.pg_major = pg_major
        self.user = service_user()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def install(self, log: Log) -> None:
        """Installs PostgreSQL and builds TimescaleDB for it when either is missing (needs root for apt)."""
        control = Path(f"/usr/share/postgresql/{self.pg_major}/extension/timescaledb.control")
        if control.exists() and (self.bin / "postgres").exists():
            return
        if os.geteuid() != 0:
            raise StackError(
                f"PostgreSQL {self.pg_major} with TimescaleDB is not installed and installing it needs root: "
                f"run `sudo bash {BUILD_SCRIPT} {self.pg_major} {self.build_dir}` once"
            )
        log(f"timescaledb: installing PostgreSQL {self.pg_major} and building TimescaleDB (about a minute)")
        run(["bash", BUILD_SCRIPT, str(self.pg_major), str(self.build_dir)])

    def _psql(self, sql: str, *, database: str = "postgres") -> str:
        """Runs SQL as the superuser over the socket; the SQL goes on stdin (it may hold passwords)."""
        return run(
            [
                self.bin / "psql",
                "-X",
                "-q",
                "-A",
                "-t",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-v",
                "ON_ERROR_STOP=1",
                "-f",
                "-",
            ],
            as_user=self.user,
            stdin=sql,
        ).stdout.strip()

    def _init_cluster(self, log: Log) -> None:
        log(f"timescaledb: creating a cluster in {self.data_dir}")
        self.home.mkdir(parents=True, exist_ok=True)
        # The state dir's parents must be traversable by the service user.
        for directory in (self.home.parent, self.home):
            directory.chmod(0o755)
        chown_to(self.home, self.user)
        self.socket_dir.mkdir(exist_ok=True)
        chown_to(self.socket_dir, self.user)
        run(
            [
                self.bin / "initdb",
                "-D",
                self.data_dir,
                "-U",
                "postgres",
                "--auth-local=peer",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            as_user=self.user,
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_CONFIG.format(port=self.port, socket_dir=self.socket_dir))
        os_user = self.user or pwd.getpwuid(os.geteuid()).pw_name
        (self.data_dir / "pg_hba.conf").write_text(HBA)
        (self.data_dir / "pg_ident.conf").write_text(f"stack {os_user} postgres\n")

    @property
    def trusts_everyone(self) -> bool:
        """A cluster made by an older version: trust authentication on every connection."""
        try:
            lines = (self.data_dir / "pg_hba.conf").read_text().splitlines()
        except OSError:
            return False
        return any(line.split()[-1:] == ["trust"] for line in lines if line.strip() and not line.startswith("#"))

    def running_pid(self) -> int | None:
        try:
            pid = int((self.data_dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if pid_alive(pid) else None

    def start(self, log: Log, *, timeout_s: float = 60.0) -> None:
        """Starts the cluster unless ours is running; creates the role and database; idempotent."""
        if not (self.data_dir / "PG_VERSION").exists():
            self._init_cluster(log)
        if self.running_pid() is None:
            log(f"timescaledb: starting PostgreSQL {self.pg_major} on {self.address}")
            run(
                [
                    self.bin / "pg_ctl",
                    "-D",
                    self.data_dir,
                    "-l",
                    self.log_file,
                    "-o",
                    f"-p {self.port}",
                    "-w",
                    "-t",
                    str(int(timeout_s)),
                    "start",
                ],
                as_user=self.user,
            )
        else:
            log(f"timescaledb: already running on {self.address}")
        self._wait_ready(timeout_s)
        if self.trusts_everyone:
            log(
                "timescaledb: WARNING this cluster (made by an older version) trusts every local connection and"
                f" `{ROLE}` is a superuser; to switch to passwords and least-privilege roles, stop the stack,"
                f" remove {self.home} and start it again (its data is lost)"
            )
            self._ensure_legacy_database()
        else:
            self._ensure_database()

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                self._psql("SELECT 1")
                return
            except StackError:
                time.sleep(0.3)
        raise StackError(f"PostgreSQL did not accept connections on {self.address}; see {self.log_file}")

    def _ensure_legacy_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'") != "1":
            self._psql(f"CREATE ROLE {ROLE} LOGIN SUPERUSER")
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") != "1":
            self._psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

    def _ensure_database(self) -> None:
        """The owner and the roles (none a superuser, each with its password), the database, and TimescaleDB
        in it and in template1 (creating the extension needs a superuser; the owner's new databases — tests,
        benchmarks — inherit it). Idempotent: passwords and attributes are set again on every start."""
        statements = []
        for role, attributes in ((ROLE, "CREATEDB"), *((r, "NOCREATEDB") for r in ROLES)):
            password = ensure_password(self.state_dir, role)
            attributes = f"LOGIN NOSUPERUSER {attributes} NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD '{password}'"
            exists = self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{role}'") == "1"
            statements.append(f"{'ALTER' if exists else 'CREATE'} ROLE {role} {attributes};")
        self._psql("SET password_encryption = 'scram-sha-256';\n" + "\n".join(statements))
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") != "1":
            self._psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")
        for database in ("template1", DATABASE):
            self._psql("CREATE EXTENSION IF NOT EXISTS timescaledb", database=database)

    def url(self, role: str = ROLE) -> str:
        """The DSN of a role (with its password) on this cluster's TCP port."""
        password = read_password(self.state_dir, role)
        secret = f":{password}" if password else ""
        return f"postgresql://{role}{secret}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self, log: Log) -> None:
        if self.running_pid() is None:
            log("timescaledb: not running (nothing started by this stack)")
            return
        log("timescaledb: stopping")
        run([self.bin / "pg_ctl", "-D", self.data_dir, "-m", "fast", "-w", "stop"], as_user=self.user)

    def status(self) -> ComponentStatus:
        managed = self.running_pid() is not None
        try:
            row = self._psql(
                "SELECT coalesce((SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'),"
                " (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb'), 'missing')"
                " || ' (postgresql ' || split_part(current_setting('server_version'), ' ', 1) || ')'",
                database=DATABASE,
            )
            up = True
        except StackError:
            row, up = "unknown", False
        return ComponentStatus(name=self.name, address=self.address, version=row, up=up, managed=managed)
