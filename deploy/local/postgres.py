"""PostgreSQL with TimescaleDB (Apache-2 edition): a private cluster in the state dir.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to and runs as `postgres`.
TimescaleDB is built from Debian's source package when the installed server lacks it.
"""

from __future__ import annotations

import os
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


class TimescaleCluster:
    """A PostgreSQL cluster in `<state_dir>/postgres`, with the `wearstream` role and database."""

    name = "timescaledb"

    def __init__(self, *, state_dir: Path, cache_dir: Path, port: int, pg_major: int) -> None:
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
                "-c",
                sql,
            ],
            as_user=self.user,
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
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            as_user=self.user,
        )
        with (self.data_dir / "postgresql.conf").open("a") as conf:
            conf.write(SERVER_CONFIG.format(port=self.port, socket_dir=self.socket_dir))

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

    def _ensure_database(self) -> None:
        if self._psql(f"SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}'") != "1":
            self._psql(f"CREATE ROLE {ROLE} LOGIN SUPERUSER")
        if self._psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'") != "1":
            self._psql(f"CREATE DATABASE {DATABASE} OWNER {ROLE}")

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
