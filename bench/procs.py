"""A server's workers (children of its main PID), their resident memory and CPU time, from /proc."""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from loanapp.dev.processes import child_pids

PROC = Path("/proc")
TICKS = os.sysconf("SC_CLK_TCK")
BUSIEST_SHOWN = 3


def rss_mb(pid: int) -> float | None:
    """Resident set size of `pid` in MiB (VmRSS), or None if it is gone."""
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def worker_rss_mb(master_pid: int) -> dict[int, float]:
    """RSS in MiB of each worker of a server's main process, by worker PID."""
    sizes = {pid: rss_mb(pid) for pid in child_pids(master_pid)}
    return {pid: size for pid, size in sizes.items() if size is not None}


def machine_busy_seconds() -> float:
    """CPU time every process on the machine has used since boot (all cores), in seconds."""
    fields = (PROC / "stat").read_text().splitlines()[0].split()
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / TICKS


@dataclass(frozen=True)
class ProcessCpu:
    """One process's name, parent and CPU seconds (its own, and its children's it waited for)."""

    name: str
    parent: int
    seconds: float
    waited_children: float

    @property
    def total(self) -> float:
        """Its CPU time and that of its children that have ended."""
        return self.seconds + self.waited_children


def _read_process(folder: Path) -> ProcessCpu | None:
    try:
        stat = (folder / "stat").read_text()
    except OSError:
        return None
    name = stat[stat.find("(") + 1 : stat.rfind(")")]
    fields = stat.rsplit(")", 1)[1].split()
    # After the name: state, ppid, ... utime (index 11), stime, cutime, cstime (index 14).
    own, waited = int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])
    return ProcessCpu(name, int(fields[1]), own / TICKS, waited / TICKS)


def scan_processes() -> dict[int, ProcessCpu]:
    """Every process on the machine now, by PID."""
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (process := _read_process(entry)) is not None:
            found[int(entry.name)] = process
    return found


@dataclass(frozen=True)
class CpuSnapshot:
    """CPU seconds used so far: the whole machine, every process, and this process's own count
    of itself and of the children it waited for (wrk)."""

    machine: float
    processes: dict[int, ProcessCpu]
    waited_children: float
    own: float

    @classmethod
    def take(cls) -> CpuSnapshot:
        """Now."""
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        own = resource.getrusage(resource.RUSAGE_SELF)
        return cls(
            machine=machine_busy_seconds(),
            processes=scan_processes(),
            waited_children=children.ru_utime + children.ru_stime,
            own=own.ru_utime + own.ru_stime,
        )

    def tree(self, master_pid: int) -> list[int]:
        """A server's main process and its workers."""
        return [master_pid] + [p for p, info in self.processes.items() if info.parent == master_pid]

    def total(self, pid: int) -> float:
        """CPU seconds of `pid` and its waited children (0 if it did not exist)."""
        process = self.processes.get(pid)
        return process.total if process else 0.0


@dataclass(frozen=True)
class CpuUse:
    """CPU seconds used during a run: by the services, by wrk, by this process, by anything else;
    per worker of the target; and the other processes that used the most."""

    services_s: float = 0.0
    wrk_s: float = 0.0
    bench_s: float = 0.0
    other_s: float = 0.0
    workers_s: dict[int, float] = field(default_factory=dict)
    busiest_others: list[str] = field(default_factory=list)


def cpu_between(before: CpuSnapshot, after: CpuSnapshot, master_pids: Sequence[int]) -> CpuUse:
    """Split the machine's CPU time between two snapshots. `master_pids`: the target server's
    main process first, then any service it calls; wrk is the child this process waited for."""
    service_pids = {pid for master in master_pids for pid in after.tree(master)}
    service_pids |= {pid for master in master_pids for pid in before.tree(master)}
    spent = {pid: after.total(pid) - before.total(pid) for pid in after.processes}
    services = sum(spent.get(pid, 0.0) for pid in service_pids)
    wrk = after.waited_children - before.waited_children
    own = after.own - before.own
    others = {
        pid: seconds
        for pid, seconds in spent.items()
        if pid not in service_pids and pid != os.getpid() and seconds > 0
    }
    busiest = sorted(others, key=others.__getitem__, reverse=True)[:BUSIEST_SHOWN]
    return CpuUse(
        services_s=services,
        wrk_s=wrk,
        bench_s=own,
        other_s=max(0.0, after.machine - before.machine - services - wrk - own),
        workers_s={pid: spent.get(pid, 0.0) for pid in after.tree(master_pids[0])[1:]},
        busiest_others=[
            f"{after.processes[pid].name} ({pid}): {others[pid]:.2f} s" for pid in busiest
        ],
    )
