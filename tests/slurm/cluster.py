"""A real one-node SLURM on 127.0.0.1 for the profile's tests (docs/slurm.md).

Debian's munge, slurmctld and slurmd, started from a private folder with their own
munge key, ports, state and logs; a node with this machine's memory and its CPUs (or
as many as ``start(cpus=...)`` declares, more than the machine has if asked), and
two declared GPUs (``gpu:test:2``, backed by /dev/null and /dev/zero, so GPU requests
are accepted and exported as ``CUDA_VISIBLE_DEVICES``), partitions ``cpu`` (default) and ``gpu``; no
accounting daemon, so job status comes from squeue and ``MinJobAge`` keeps finished
jobs in the controller for 10 minutes. Memory requests are enforced (a job above its
``--mem`` is killed), as on a real cluster. Needs root and the Debian packages
``slurmctld slurmd slurm-client munge``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = "slurmctld slurmd slurm-client munge"
BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "scontrol", "scancel",
            "sinfo", "runuser")
GPU_TYPE = "test"
# two declared GPUs, so two GPU jobs run at once on a 2-core machine; SLURM needs a
# device file per GPU, and these two exist everywhere
GPU_FILES = ("/dev/null", "/dev/zero")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
PREFIX = "symlearn-slurm-"


class SlurmUnavailable(RuntimeError):
    """SLURM cannot be started here; the message says why."""


def missing() -> str | None:
    """Why this machine cannot run the test cluster, or None if it can."""
    if os.geteuid() != 0:
        return "the test cluster needs root (slurmd, and munged as the munge user)"
    absent = [b for b in BINARIES if _which(b) is None]
    if absent:
        return (f"{', '.join(absent)} not found; install Debian's {PACKAGES} "
                f"(apt-get install --no-install-recommends {PACKAGES})")
    return None


def _which(name: str) -> str | None:
    return shutil.which(name, path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Cluster:
    """A running test cluster: ``env`` points the SLURM commands at it."""

    folder: Path
    env: dict[str, str]
    pid_files: list[Path] = field(default_factory=list)

    def run(self, *command: str, timeout: float = 30) -> str:
        """Run a SLURM command (or daemon) against this cluster; its stdout, or a
        RuntimeError with its output."""
        result = subprocess.run([_which(command[0]) or command[0], *command[1:]],
                                capture_output=True, text=True, env=self.env,
                                timeout=timeout)
        if result.returncode:
            raise RuntimeError(f"{' '.join(command)} exited with {result.returncode}: "
                               f"{(result.stdout + result.stderr).strip()}")
        return result.stdout

    def jobs(self) -> list[dict[str, str]]:
        """The controller's record of every job it still holds (``scontrol show job``),
        one dict of its fields per job or array task."""
        return [dict(item.partition("=")[::2] for item in line.split())
                for line in self.run("scontrol", "show", "job", "-o").splitlines()
                if line.strip() and not line.startswith("No jobs")]

    def log_tail(self, lines: int = 20) -> str:
        text = []
        for name in ("slurmctld.log", "slurmd.log", "munge/munged.log"):
            path = self.folder / name
            if path.exists():
                tail = path.read_text(errors="replace").splitlines()[-lines:]
                text.append(f"--- {path}\n" + "\n".join(tail))
        return "\n".join(text)

    def stop(self) -> None:
        """Cancel the jobs still there, then stop the daemons this cluster started, by
        their process ids."""
        try:
            self.run("scancel", "--full", "--user", "root", timeout=10)
            deadline = time.monotonic() + 15
            while time.monotonic() < deadline and self.run(
                    "squeue", "-h", "-t", "RUNNING,COMPLETING", timeout=10).strip():
                time.sleep(0.5)
        except (RuntimeError, subprocess.SubprocessError):
            pass  # a controller that does not answer has no jobs to wait for
        pids = []
        for pid_file in reversed(self.pid_files):  # slurmd, slurmctld, munged
            try:
                pid = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                continue
            try:
                os.kill(pid, signal.SIGTERM)
                pids.append(pid)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 15
        for pid in pids:
            while time.monotonic() < deadline and _alive(pid):
                time.sleep(0.1)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        for name in ("slurm.conf", "gres.conf"):
            link = SYSTEM_CONF.parent / name
            if link.is_symlink() and Path(os.readlink(link)).parent == self.folder:
                link.unlink()
        shutil.rmtree(self.folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _node_line() -> str:
    """This machine as ``slurmd -C`` describes it (CPUs, topology, RealMemory)."""
    out = subprocess.run([_which("slurmd"), "-C"], capture_output=True, text=True,
                         timeout=30)
    line = out.stdout.splitlines()[0] if out.stdout else ""
    if not line.startswith("NodeName="):
        raise SlurmUnavailable(f"slurmd -C printed no node description: {out.stderr}")
    return line


def _declared_node(cpus: int | None) -> list[str]:
    """The node's ``slurm.conf`` words: this machine as ``slurmd -C`` sees it, or, with
    ``cpus``, one socket of that many cores (more than the machine may have: slurmd
    then runs with ``SlurmdParameters=config_overrides``)."""
    words = _node_line().split()
    if cpus is None:
        return words
    topology = {"CPUs": cpus, "Boards": 1, "SocketsPerBoard": 1, "CoresPerSocket": cpus,
                "ThreadsPerCore": 1}
    words = [w for w in words if w.partition("=")[0] not in topology]
    return words[:1] + [f"{key}={value}" for key, value in topology.items()] + words[1:]


def start(env: dict[str, str] | None = None, min_job_age: int = 600,
          cpus: int | None = None) -> Cluster:
    """Start munged, slurmctld and slurmd; return once the node is idle. ``cpus``: the
    CPUs the node declares (default: this machine's)."""
    reason = missing()
    if reason:
        raise SlurmUnavailable(reason)
    # The commands find the configuration through SLURM_CONF, but inside a job the
    # executor plugin clears SLURM_* before its `srun`, which then reads the default
    # path: the configuration is linked there while the cluster runs.
    for name in ("slurm.conf", "gres.conf"):  # left behind by a test run killed early
        link = SYSTEM_CONF.parent / name
        if link.is_symlink() and Path(os.readlink(link)).parent.name.startswith(PREFIX):
            link.unlink()
    if SYSTEM_CONF.exists() or SYSTEM_CONF.is_symlink():
        raise SlurmUnavailable(
            f"{SYSTEM_CONF} exists: this machine has a SLURM configuration of its own, "
            "which the test cluster will not replace")
    # not under pytest's private tmp: munged (as the munge user) needs to reach its socket
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    folder.chmod(0o755)
    munge = folder / "munge"
    munge.mkdir(mode=0o755)
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    key = munge / "munge.key"
    key.write_bytes(os.urandom(1024))
    shutil.chown(munge, "munge", "munge")
    shutil.chown(key, "munge", "munge")
    key.chmod(0o400)
    host = socket.gethostname().split(".")[0]
    node = _declared_node(cpus)
    node[0] = f"NodeName={host}"
    socket_path = munge / "munge.socket"
    (folder / "slurm.conf").write_text("\n".join([
        "ClusterName=symlearn-test",
        f"SlurmctldHost={host}(127.0.0.1)",
        f"SlurmctldPort={_free_port()}",
        f"SlurmdPort={_free_port()}",
        "SlurmUser=root",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={socket_path}",
        f"StateSaveLocation={folder / 'state'}",
        f"SlurmdSpoolDir={folder / 'spool'}",
        f"SlurmctldPidFile={folder / 'slurmctld.pid'}",
        f"SlurmdPidFile={folder / 'slurmd.pid'}",
        f"SlurmctldLogFile={folder / 'slurmctld.log'}",
        f"SlurmdLogFile={folder / 'slurmd.log'}",
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        # memory requests are enforced: a job above its --mem is killed
        "JobAcctGatherType=jobacct_gather/linux",
        "JobAcctGatherFrequency=task=1",
        "JobAcctGatherParams=OverMemoryKill",
        f"MinJobAge={min_job_age}",
        "DefMemPerCPU=1000",
        "KillWait=5",
        "MailProg=/bin/true",
        "ReturnToService=2",
        # a node may declare more CPUs than the machine has (the tests ask for more
        # threads than this machine's cores); slurmd trusts slurm.conf, not the hardware
        *(["SlurmdParameters=config_overrides"] if cpus is not None else []),
        "GresTypes=gpu",
        " ".join(node + ["NodeAddr=127.0.0.1", f"Gres=gpu:{GPU_TYPE}:{len(GPU_FILES)}",
                         "State=UNKNOWN"]),
        f"PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP",
        f"PartitionName=gpu Nodes={host} MaxTime=INFINITE State=UP",
        "",
    ]))
    (folder / "gres.conf").write_text("AutoDetect=off\n" + "".join(
        f"Name=gpu Type={GPU_TYPE} File={device}\n" for device in GPU_FILES))
    SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
    for name in ("slurm.conf", "gres.conf"):
        (SYSTEM_CONF.parent / name).symlink_to(folder / name)
    cluster_env = dict(env or os.environ)
    cluster_env["SLURM_CONF"] = str(folder / "slurm.conf")
    cluster = Cluster(folder, cluster_env)

    def launch(*command: str) -> None:
        try:
            cluster.run(*command, timeout=60)
        except (RuntimeError, subprocess.SubprocessError) as err:
            why = f"{err}\n{cluster.log_tail()}"
            cluster.stop()
            raise SlurmUnavailable(why) from None

    cluster.pid_files.append(munge / "munged.pid")
    launch("runuser", "-u", "munge", "--", _which("munged"),
           f"--key-file={key}", f"--socket={socket_path}",
           f"--pid-file={munge / 'munged.pid'}", f"--log-file={munge / 'munged.log'}",
           f"--seed-file={munge / 'munge.seed'}")
    cluster.pid_files.append(folder / "slurmctld.pid")
    launch("slurmctld", "-f", str(folder / "slurm.conf"))
    cluster.pid_files.append(folder / "slurmd.pid")
    launch("slurmd", "-f", str(folder / "slurm.conf"))

    deadline = time.monotonic() + 60
    state = ""
    while time.monotonic() < deadline:
        try:  # sinfo blocks while slurmctld is not yet answering
            state = cluster.run("sinfo", "-h", "-N", "-o", "%T", timeout=10).strip()
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            state = f"(no answer: {err})"
        if state.split() and all(s == "idle" for s in state.split()):
            return cluster
        time.sleep(0.5)
    why = f"the node is not idle after 60 s (state {state!r})\n{cluster.log_tail()}"
    cluster.stop()
    raise SlurmUnavailable(why)
