"""A throwaway single-node Slurm cluster for the tests: munged, slurmctld and slurmd, started
as root without systemd from Debian's ``slurm-wlm`` and ``munge`` packages.

Everything lives in one scratch folder (:data:`STATE`: config, munge key and socket, spool,
state, logs, pid files), except a link to the config at Slurm's compiled-in default path
(``/etc/slurm/slurm.conf`` on Debian): the executor plugin's job step drops ``SLURM_CONF`` from
the environment of its inner ``srun``, which then finds no config anywhere else. A real config
there is never touched. Daemons are stopped by their pid files, also those a crashed earlier run
left behind (see :func:`stop`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

STATE = Path(tempfile.gettempdir()) / "satsim-slurm"
TEMPLATE = Path(__file__).with_name("slurm") / "slurm.conf"
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
CTLD_PORT, SLURMD_PORT = 16817, 16818
# Stopped in this order: the node, the controller, then the authentication they both use.
DAEMONS = ("slurmd", "slurmctld", "munged")
TOOLS = (*DAEMONS, "sbatch", "srun", "squeue", "sinfo", "scontrol", "scancel")
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/local/sbin", "/usr/sbin", "/sbin"])


def tool(name: str) -> str | None:
    return shutil.which(name, path=SBIN_PATH)


def conf_path() -> Path:
    return STATE / "slurm.conf"


def env() -> dict[str, str]:
    """The environment for Slurm's commands: ours first on PATH, our config in SLURM_CONF."""
    return {**os.environ, "PATH": SBIN_PATH, "SLURM_CONF": str(conf_path())}


def _ours(link: Path) -> bool:
    """Is ``link`` a link that this module made (pointing into STATE)?"""
    return link.is_symlink() and Path(os.readlink(link)).parent == STATE


def unavailable_reason() -> str | None:
    """Why a cluster cannot be started here, or None when it can."""
    if os.geteuid() != 0:
        return "not root: munged, slurmctld and slurmd are started as root"
    missing = [name for name in TOOLS if tool(name) is None]
    if missing:
        return (
            f"Slurm or munge is not installed ({', '.join(missing)} missing): "
            "apt-get install slurm-wlm munge"
        )
    if (SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink()) and not _ours(SYSTEM_CONF):
        return f"a Slurm config already exists at {SYSTEM_CONF}; not replacing it"
    return None


def _alive(pid: int, daemon: str) -> bool:
    """Is ``pid`` a running ``daemon`` (not a reused pid of some other program)?"""
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return comm == daemon[:15] and stat.rsplit(")", 1)[1].split()[0] != "Z"


def _pid(daemon: str) -> int | None:
    try:
        return int((STATE / f"{daemon}.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _kill(daemon: str, timeout: float = 15) -> None:
    pid = _pid(daemon)
    if pid is None or not _alive(pid, daemon):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid, daemon) and time.monotonic() < deadline:
            time.sleep(0.2)
        if _alive(pid, daemon):
            os.kill(pid, signal.SIGKILL)


def _queued_jobs() -> list[str]:
    run = subprocess.run(
        [tool("squeue") or "squeue", "--noheader", "--format=%i"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return run.stdout.split()


def stop(timeout: float = 30) -> None:
    """Cancel the jobs still queued or running (slurmd then ends their processes), stop the
    daemons by their pid files and remove the config link. Safe to call when nothing runs, and
    after a crashed run."""
    pid = _pid("slurmctld")
    if pid is not None and _alive(pid, "slurmctld"):
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            jobs = _queued_jobs()
            if jobs:
                subprocess.run(
                    [tool("scancel") or "scancel", *jobs],
                    env=env(),
                    capture_output=True,
                    timeout=30,
                )
                deadline = time.monotonic() + timeout
                while set(jobs) & set(_queued_jobs()) and time.monotonic() < deadline:
                    time.sleep(1)
    for daemon in DAEMONS:
        _kill(daemon)
    if _ours(SYSTEM_CONF):
        SYSTEM_CONF.unlink()
    (STATE / "munge" / "munge.key").unlink(missing_ok=True)


def _wait(what: str, ready, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise RuntimeError(f"Slurm test cluster: {what} within {timeout:.0f} s\n{logs()}")
        time.sleep(0.5)


def logs(lines: int = 30) -> str:
    """The last lines of each daemon's log, for a failure message."""
    out = []
    for name in ("munged.log", "slurmctld.log", "slurmd.log"):
        path = STATE / name
        if path.exists():
            tail = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path} ---\n" + "\n".join(tail))
    return "\n".join(out)


def _run(*args: str) -> None:
    run = subprocess.run(args, env=env(), capture_output=True, text=True, timeout=60)
    if run.returncode != 0:
        raise RuntimeError(
            f"Slurm test cluster: {' '.join(args)} exited with {run.returncode}\n"
            f"{run.stdout}{run.stderr}\n{logs()}"
        )


def _node_state() -> str:
    run = subprocess.run(
        [tool("sinfo"), "--noheader", "--format=%T"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=30,
    )
    return run.stdout.strip() if run.returncode == 0 else ""


def start(timeout: float = 60) -> Path:
    """Start munged, slurmctld and slurmd (after stopping any left from an earlier run) and
    wait until the node is idle. Returns the config's path; call :func:`stop` afterwards."""
    stop()
    reason = unavailable_reason()
    if reason:
        raise RuntimeError(reason)
    shutil.rmtree(STATE, ignore_errors=True)
    munge = STATE / "munge"
    for folder in (STATE / "ctld", STATE / "spool", munge):
        folder.mkdir(parents=True)
    munge.chmod(0o711)  # munged wants its socket folder searchable but not listable
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    socket_path = munge / "munge.socket"

    host = socket.gethostname().split(".")[0]  # NodeName must equal `hostname -s`
    text = TEMPLATE.read_text()
    for name, value in {
        "@HOST@": host,
        "@STATE@": str(STATE),
        "@MUNGE_SOCKET@": str(socket_path),
        "@CTLD_PORT@": str(CTLD_PORT),
        "@SLURMD_PORT@": str(SLURMD_PORT),
    }.items():
        text = text.replace(name, value)
    conf_path().write_text(text)
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    SYSTEM_CONF.symlink_to(conf_path())

    try:
        _run(
            tool("munged"),
            "--force",
            f"--key-file={key}",
            f"--socket={socket_path}",
            f"--pid-file={STATE / 'munged.pid'}",
            f"--log-file={STATE / 'munged.log'}",
            f"--seed-file={munge / 'munged.seed'}",
        )
        _run(tool("slurmctld"), "-c", "-f", str(conf_path()))  # -c: no state from earlier runs
        _wait("slurmctld answering", lambda: _node_state() != "", timeout)
        _run(tool("slurmd"), "-f", str(conf_path()))
        _wait("the node idle", lambda: _node_state() == "idle", timeout)
    except BaseException:
        stop()
        raise
    return conf_path()
