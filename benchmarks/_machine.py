"""What the benchmarks record about the machine and the run, and how they print tables.

The machines are shared and noisy, so every benchmark prints, next to its
numbers: the CPU model, the date, the thread pools (``threadpoolctl``), the
exact command, and how busy the CPUs were during the run (``/proc/stat``
before and after, against the CPU time the benchmark itself used).

Functions
---------
machine_info
    CPU model, cores, date, Python and library versions, thread pools, command.
CpuLoad
    A ``/proc/stat`` snapshot; :meth:`CpuLoad.report_since` says how much of the
    machine was used by others during the run.
current_rss_mb, peak_rss_mb
    Resident memory now, and its high-water mark (``getrusage``).
FitPeak
    The resident memory a block of code added at its peak (the kernel's
    high-water mark, reset at the start of the block).
format_table
    Aligned plain-text table.
write_json
    A benchmark's results as JSON (NumPy values converted).
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import resource
import shlex
import sys
import time
from dataclasses import dataclass

__all__ = [
    "CpuLoad",
    "FitPeak",
    "cpu_model",
    "current_rss_mb",
    "format_load",
    "format_table",
    "machine_info",
    "peak_rss_mb",
    "print_header",
    "write_json",
]


def cpu_model():
    """The ``model name`` line of ``/proc/cpuinfo`` (or ``platform.processor()``)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info():
    """JSON-ready description of the machine, the software and the command.

    Returns
    -------
    dict
    """
    import numpy as np
    import scipy
    import sklearn
    from threadpoolctl import threadpool_info

    import softmax_classifier

    return {
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "n_cpus": os.cpu_count(),
        "n_cpus_usable": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "versions": {
            "softmax_classifier": softmax_classifier.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "scikit-learn": sklearn.__version__,
        },
        "threadpools": [
            {
                key: pool.get(key)
                for key in ("user_api", "internal_api", "num_threads", "version", "architecture")
            }
            for pool in threadpool_info()
        ],
        "env": {
            key: os.environ[key]
            for key in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
            if key in os.environ
        },
    }


def print_header(title, info):
    """Print the facts of :func:`machine_info` above a benchmark's output."""
    print(f"== {title}")
    print(f"command : {info['command']}")
    print(f"date    : {info['date']}")
    print(f"cpu     : {info['cpu']} ({info['n_cpus_usable']} usable of {info['n_cpus']})")
    versions = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
    print(f"software: Python {info['python']}, {versions}")
    for pool in info["threadpools"]:
        arch = f", {pool['architecture']}" if pool.get("architecture") else ""
        print(
            f"threads : {pool['internal_api']} ({pool['user_api']}) "
            f"{pool['num_threads']} threads{arch}"
        )
    for key, value in info["env"].items():
        print(f"env     : {key}={value}")


@dataclass
class CpuLoad:
    """A snapshot of the machine's CPU counters, the load average and our own CPU time.

    Take one with :meth:`now` before a run and call :meth:`report_since` after it.
    """

    wall: float
    busy_jiffies: int
    total_jiffies: int
    loadavg: tuple
    own_cpu_seconds: float

    @classmethod
    def now(cls):
        """Read ``/proc/stat``, ``/proc/loadavg`` and this process's CPU time."""
        busy = total = 0
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
            # user nice system idle iowait irq softirq steal (guest is inside user)
            total = sum(fields[:8])
            busy = total - fields[3] - fields[4]
        except (OSError, ValueError, IndexError):
            pass
        try:
            loadavg = tuple(float(v) for v in open("/proc/loadavg").read().split()[:3])
        except OSError:
            loadavg = ()
        usage = [
            resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        ]
        own = sum(u.ru_utime + u.ru_stime for u in usage)
        return cls(time.perf_counter(), busy, total, loadavg, own)

    def report_since(self, earlier, extra_own_cpu_seconds=0.0):
        """How busy the CPUs were between ``earlier`` and this snapshot.

        Parameters
        ----------
        earlier : CpuLoad
        extra_own_cpu_seconds : float
            CPU time of helper processes that are not our waited-for children
            (e.g. forkserver workers), reported by themselves.

        Returns
        -------
        dict
            ``busy_percent`` of all CPUs, ``own_percent`` used by the benchmark,
            ``others_percent`` the difference (other users of the machine),
            load averages before and after.
        """
        ticks = os.sysconf("SC_CLK_TCK")
        total = max(self.total_jiffies - earlier.total_jiffies, 1)
        busy = (self.busy_jiffies - earlier.busy_jiffies) / total
        wall = max(self.wall - earlier.wall, 1e-9)
        n_cpus = total / ticks / wall if total > 1 else os.cpu_count()
        own_cpu = self.own_cpu_seconds - earlier.own_cpu_seconds + extra_own_cpu_seconds
        own = own_cpu / (wall * max(n_cpus, 1))
        return {
            "wall_seconds": wall,
            "busy_percent": 100 * busy,
            "own_percent": 100 * own,
            "others_percent": 100 * max(busy - own, 0.0),
            "loadavg_before": list(earlier.loadavg),
            "loadavg_after": list(self.loadavg),
        }


def format_load(report):
    """One line for a :meth:`CpuLoad.report_since` dict."""
    return (
        f"CPU load over {report['wall_seconds']:.0f} s: {report['busy_percent']:.0f}% busy, "
        f"{report['own_percent']:.0f}% this benchmark, ~{report['others_percent']:.0f}% others; "
        f"loadavg {_triple(report['loadavg_before'])} -> {_triple(report['loadavg_after'])}"
    )


def current_rss_mb():
    """Resident set size of this process now, in MiB (``/proc/self/statm``)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


# The largest high-water mark seen before a reset (:func:`reset_peak_rss` lowers the
# kernel's, which ``getrusage`` also reports).
_peak_before_resets_mb = 0.0


def peak_rss_mb():
    """High-water mark of this process's resident memory, in MiB (``getrusage``).

    Includes the peaks before any :func:`reset_peak_rss`.
    """
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak = peak / 2**20 if sys.platform == "darwin" else peak / 2**10
    return max(peak, _peak_before_resets_mb)


def reset_peak_rss():
    """Reset this process's resident-memory high-water mark (``VmHWM``) to its RSS now.

    Linux only (writes ``5`` to ``/proc/self/clear_refs``, Linux 4.0 and later).

    Returns
    -------
    bool
        Whether the reset worked.
    """
    global _peak_before_resets_mb
    _peak_before_resets_mb = max(_peak_before_resets_mb, peak_rss_mb())
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def high_water_rss_mb():
    """``VmHWM`` of ``/proc/self/status`` in MiB (NaN when unreadable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10
    except (OSError, ValueError, IndexError):
        pass
    return float("nan")


class FitPeak:
    """What a block of code added to resident memory at its peak, in MiB.

    Around each block (``with peak:``), the kernel's high-water mark is reset
    to the RSS at the start, and after it ``added_mb`` becomes the largest of
    (high-water mark - RSS at the start) over all the blocks measured so far.
    Memory freed before the block and reused by it is not seen (it was
    already resident), so this is a lower bound on what the block needed;
    in a fresh process little is held back that way.

    ``added_mb`` is None when the high-water mark cannot be reset (not Linux).
    """

    def __init__(self):
        self.added_mb = None
        self._start = None

    def __enter__(self):
        self._start = current_rss_mb() if reset_peak_rss() else None
        return self

    def __exit__(self, *exc_info):
        if self._start is not None:
            added = max(high_water_rss_mb() - self._start, 0.0)
            self.added_mb = added if self.added_mb is None else max(self.added_mb, added)
        return False


def format_table(rows, columns):
    """Aligned plain-text table.

    Parameters
    ----------
    rows : list of dict
    columns : list of (key, header, format)
        ``format`` is a callable turning a value (possibly None) into a string.

    Returns
    -------
    str
    """
    cells = [[fmt(row.get(key)) for key, _, fmt in columns] for row in rows]
    headers = [header for _, header, _ in columns]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    numeric = [
        all(_looks_numeric(r[i]) for r in cells) and bool(cells) for i in range(len(headers))
    ]

    def line(values):
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


def _looks_numeric(text):
    text = text.strip().rstrip("x%")
    if text in ("", "-", "n/a"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _triple(values):
    return "/".join(f"{v:.2f}" for v in values) if values else "n/a"


def write_json(path, payload):
    """Write ``payload`` as indented JSON to ``path`` (folders created; NumPy values converted).

    Parameters
    ----------
    path : pathlib.Path
    payload : dict
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, default=_jsonable))


def _jsonable(value):
    import numpy as np

    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
