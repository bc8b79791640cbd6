"""The cgroups of one submission: a ceiling on its processes, its memory and its share of the
cores, the CPU time it used, and a list of every process it started wherever they went
(setsid, double fork), to kill them all. cgroup v1 (a hierarchy per controller) and v2 (one
folder holds every controller) alike; where cgroups cannot be written (not root, no pids
controller), there are none, and the process tree's accounting read from ``/proc`` stands in
for the CPU time.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

# cgroup v1's pids hierarchy, then v2's unified one (needs the pids controller delegated)
CGROUP_ROOTS = (Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup"))
CGROUP_PARENT = "autograder"
CPU_PERIOD_US = 100_000
ACCOUNTING = "cpuacct"  # cgroup v1's hierarchy that counts CPU time (where cpu and cpuacct are apart)


@dataclass(frozen=True)
class ProcessCgroup:
    """The cgroups of one submission: a ceiling on its tasks and a list of every process it
    started wherever they went (setsid, double fork), to kill them all (``path``, pids);
    with cgroup v1, a memory cgroup (its resident memory, all processes together: a fork
    bomb that allocates in every child cannot take the machine's memory) and a cpu cgroup
    (its share of the cores: a busy loop in many processes cannot starve the submissions
    graded beside it) of the same name (``companions``)."""

    path: Path
    companions: tuple[Path, ...] = ()

    @classmethod
    def create(cls, max_processes: int | None, *, memory_mb: int | None = None,
               cpus: float | None = None, roots: tuple[Path, ...] = CGROUP_ROOTS) -> ProcessCgroup | None:
        """Fresh cgroups, or None where cgroups cannot be written (not root, no pids)."""
        for root in roots:
            try:
                if not (root / "cgroup.procs").exists() or not _has_pids_controller(root):
                    continue
                name = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
                path = _make_cgroup(root, name, {"pids.max": max_processes})
                if root.name != "pids":  # v2: one folder holds every controller
                    _write_limits(path, _v2_limits(memory_mb, cpus))
                    return cls(path)
                return cls(path, tuple(_companions(root.parent, name, memory_mb, cpus)))
            except OSError:
                continue
        return None

    @classmethod
    def from_paths(cls, paths: list[str]) -> ProcessCgroup:
        return cls(Path(paths[0]), tuple(Path(p) for p in paths[1:]))

    def paths(self) -> list[str]:
        return [str(self.path), *map(str, self.companions)]

    def controllers(self) -> list[str]:
        """The limits these cgroups carry: ``pids`` always, ``memory`` and ``cpu`` where set."""
        if self.path.parent.parent.name == "pids":  # v1: a hierarchy per controller
            return ["pids", *(path.parent.parent.name for path in self.companions
                              if path.parent.parent.name != ACCOUNTING)]
        return ["pids", *(name for name, file in (("memory", "memory.max"), ("cpu", "cpu.max"))
                          if (self.path / file).exists())]  # v2: one folder, a file per limit

    def limits_reached(self) -> list[str]:
        """Which of its limits the submission ran into, from the kernel's own counters (not from
        anything the student's code says): ``processes`` (a fork refused at pids.max), ``memory``
        (an allocation over the memory limit, v1 ``memory.failcnt``, v2 ``memory.events``)."""
        reached = []
        if _counter(self.path / "pids.events", "max"):
            reached.append("processes")
        memory = [path for path in self.companions if path.parent.parent.name == "memory"]
        if any(_number(path / "memory.failcnt") for path in memory) or any(
                _counter(self.path / "memory.events", key) for key in ("max", "oom_kill")):
            reached.append("memory")
        return reached

    def cpu_seconds(self) -> float | None:
        """The CPU time every process of the submission used so far, from the kernel's own
        accounting (v2 ``cpu.stat``, v1 ``cpuacct.usage``); None where there is none."""
        usage = _counter(self.path / "cpu.stat", "usage_usec")
        if usage or (self.path / "cpu.stat").exists():
            return usage / 1e6
        for path in self.companions:
            if (path / "cpuacct.usage").exists():
                return _number(path / "cpuacct.usage") / 1e9
        return None

    def join(self) -> None:
        """Called by the child itself between fork and exec."""
        for path in (self.path, *self.companions):
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def members(self) -> list[int]:
        try:
            return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill_all(self, keep: frozenset[int] = frozenset()) -> None:
        """SIGKILL every member but ``keep`` until none is left (members may still be forking)."""
        for _ in range(200):
            members = [pid for pid in self.members() if pid not in keep]
            if not members:
                return
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self) -> None:
        self.kill_all()
        for path in (self.path, *self.companions):
            for _ in range(50):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)  # the last members are still being reaped


def _counter(path: Path, key: str) -> int:
    """A value of a flat-keyed cgroup file (``max 3``); 0 where the file or key is missing."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in lines if line.split()[:1] == [key]), 0)


def _number(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def _make_cgroup(root: Path, name: str, limits: dict[str, object]) -> Path:
    parent = root / CGROUP_PARENT
    parent.mkdir(exist_ok=True)
    if root.name != "pids" and (root / "cgroup.subtree_control").exists():
        _delegate_v2_controllers(root, parent)
    _remove_stale(parent)
    path = parent / name
    path.mkdir()
    _write_limits(path, limits)
    return path


V2_CONTROLLERS = ("pids", "memory", "cpu")


def _delegate_v2_controllers(root: Path, parent: Path) -> None:
    """cgroup v2 gives a cgroup the files of a controller (``pids.max``, ``memory.max``,
    ``cpu.max``) only if its parent enables it in ``cgroup.subtree_control``: without this
    the limits would be silently absent. Enabled from the root down to our parent folder."""
    available = set((root / "cgroup.controllers").read_text().split())
    wanted = " ".join(f"+{name}" for name in V2_CONTROLLERS if name in available)
    for folder in (root, parent):
        enabled = set((folder / "cgroup.subtree_control").read_text().split())
        if wanted and not {name for name in V2_CONTROLLERS if name in available} <= enabled:
            (folder / "cgroup.subtree_control").write_text(wanted)


def _write_limits(path: Path, limits: dict[str, object]) -> None:
    for file_name, value in limits.items():
        if value is not None and (path / file_name).exists():
            (path / file_name).write_text(str(value))


def _companions(hierarchies: Path, name: str, memory_mb: int | None, cpus: float | None) -> list[Path]:
    """cgroup v1's memory and cpu hierarchies; a missing or unwritable one is skipped."""
    wanted: dict[str, dict[str, object]] = {
        "memory": {"memory.limit_in_bytes": memory_mb and memory_mb << 20},
        "cpu": {"cpu.cfs_period_us": cpus and CPU_PERIOD_US,
                "cpu.cfs_quota_us": cpus and int(cpus * CPU_PERIOD_US)},
        ACCOUNTING: {}}  # no limit: the CPU time the submission used (cell limits count it)
    made = []
    for controller, limits in wanted.items():
        wanted_at_all = controller == ACCOUNTING or any(value for value in limits.values())
        if not wanted_at_all or not (hierarchies / controller / "cgroup.procs").exists():
            continue
        try:
            made.append(_make_cgroup(hierarchies / controller, name, limits))
        except OSError:
            continue
    return made


def _v2_limits(memory_mb: int | None, cpus: float | None) -> dict[str, object]:
    return {"memory.max": memory_mb and memory_mb << 20,
            "memory.swap.max": memory_mb and 0,  # over the limit is killed, not swapped out
            "cpu.max": cpus and f"{int(cpus * CPU_PERIOD_US)} {CPU_PERIOD_US}"}


def _has_pids_controller(root: Path) -> bool:
    if root.name == "pids":
        return True
    controllers = root / "cgroup.controllers"
    return controllers.exists() and "pids" in controllers.read_text().split()


def _remove_stale(parent: Path) -> None:
    """Cgroups left behind by a grader killed with -9 (their processes died with it). Each is
    named after the grader that made it; a live grader's may be empty only for now."""
    for child in parent.iterdir():
        grader = child.name.split("-", 1)[0]
        if child.is_dir() and grader.isdigit() and not Path(f"/proc/{grader}").exists():
            try:
                child.rmdir()
            except OSError:
                pass


def process_tree_stats(root: int) -> dict[int, list[str]]:
    """``/proc/PID/stat``'s fields after the command name (``state`` first, so ``ppid`` is
    index 1, ``utime`` 11, ``rss`` 21) for ``root`` and every process below it."""
    stats: dict[int, list[str]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stats[int(entry)] = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, fields in stats.items() if int(fields[1]) == parent and pid not in members]
        members.update(children)
        frontier.extend(children)
    return {pid: stats[pid] for pid in members if pid in stats}


def process_tree_cpu_seconds(pid: int) -> float:
    """The CPU time of ``pid`` and every process below it (with the children they reaped),
    read from /proc: where no cgroup accounts for a submission (a TA's own account)."""
    ticks = sum(sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
                for fields in process_tree_stats(pid).values())
    return ticks / os.sysconf("SC_CLK_TCK")


def process_tree_run_queue_waits(pid: int) -> dict[int, int]:
    """Per process of ``pid``'s tree, the nanoseconds it has spent runnable but waiting for a
    CPU (``/proc/PID/schedstat``'s second field): on a busy machine, the wall time a computing
    cell loses to the load, which a wall-clock limit must not count."""
    waits = {}
    for member in process_tree_stats(pid):
        try:
            waits[member] = int(Path(f"/proc/{member}/schedstat").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return waits
