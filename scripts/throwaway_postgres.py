"""A throwaway PostgreSQL cluster on 127.0.0.1, for tests and benchmarks.

    python scripts/throwaway_postgres.py       # start one, print its URL, stop on Enter

Installs PostgreSQL with apt-get when its binaries are missing (as root, on Debian or
Ubuntu), initialises a cluster in a temporary folder with password authentication, and
starts it on a free port. PostgreSQL refuses to run as root, so when run as root the
cluster belongs to `nobody`. `stop()` kills the server and removes the folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/ is not a package
from debian import Unavailable, apt_install

USER = "stratopt"
PASSWORD = "s3cret-pw_for-tests"  # a throwaway cluster's; tests check it never leaks


def find_bindir() -> Path | None:
    """The folder holding initdb/pg_ctl (newest version), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).resolve().parent if which else None


def _version(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except ValueError:
        return 0


def install() -> Path:
    """PostgreSQL's bin folder, installing the server with apt-get if needed."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    apt_install("postgresql", recommends=True)
    bindir = find_bindir()
    if bindir is None:
        raise Unavailable("apt-get installed postgresql but initdb was not found")
    return bindir


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    bindir: Path
    root: Path
    port: int
    owner: str | None  # the user the server runs as (None: this one)
    options: str = ""  # the server's options (`pg_ctl -o`), kept for `start_server`

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def url(self, password: str | None = PASSWORD, database: str = "postgres") -> str:
        auth = USER if password is None else f"{USER}:{password}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = 120) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.owner is not None:
            cmd = ["runuser", "-u", self.owner, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {done.stdout}\n{done.stderr}")

    def stop_server(self) -> None:
        """Stop the server (fast shutdown: connections are dropped), keeping its data."""
        self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")

    def start_server(self) -> None:
        """Start the server again on the same port, with the same options."""
        self._run(
            "pg_ctl", "-D", str(self.root / "data"), "-o", self.options, "-l",
            str(self.root / "log"), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        with contextlib.suppress(Exception):  # already stopped, or never started
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start(*, durable: bool = False) -> Cluster:
    """Install if needed, initialise and start a cluster; the caller must `stop()` it.

    Tests run without fsync (a throwaway cluster need not survive a power cut);
    `durable=True` keeps PostgreSQL's defaults, for benchmarks.
    """
    bindir = install()
    root = Path(tempfile.mkdtemp(prefix="stratopt-pg-"))
    owner = None
    if os.geteuid() == 0:
        owner = "nobody"
        shutil.chown(root, user=owner)
    pwfile = root / "pw"
    pwfile.write_text(PASSWORD + "\n")
    if owner is not None:
        shutil.chown(pwfile, user=owner)
    cluster = Cluster(bindir, root, free_port(), owner)
    try:
        cluster._run(
            "initdb", "-D", str(root / "data"), "-U", USER, f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8",
        )  # fmt: skip
        opts = f"-h 127.0.0.1 -p {cluster.port} -k {root} -c max_connections=100"
        if not durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        cluster.options = opts
        cluster.start_server()
    except BaseException:
        cluster.stop()
        raise
    return cluster


if __name__ == "__main__":
    c = start()
    print(c.url(), flush=True)
    try:
        input("PostgreSQL running; press Enter to stop\n")
    finally:
        c.stop()
