"""Peak memory of a checker tree, reconciled from wait4's ru_maxrss and sampled VmHWM."""

from __future__ import annotations

_MIB = 2**20


def memory_peak(ru_maxrss_kb: int, max_hwm_bytes: int, floor_kb: int) -> tuple[float, str, bool]:
    """(peak MiB, source, may_be_floor) from wait4's ru_maxrss and the sampled VmHWM.

    A spawned child's ru_maxrss starts at the spawning driver's own high-water mark (``floor_kb``,
    read just after the spawn), so it is informative only when it exceeds that floor; then it is
    exact for the leader and its waited-for descendants, and sampled VmHWM (per exec'd image,
    never floored) adds the others. At or below the floor the sampled VmHWM is used if any
    sample saw the tree; otherwise the figure is the floor itself, flagged.
    """
    ru, hwm = ru_maxrss_kb * 1024, max_hwm_bytes
    if ru_maxrss_kb > floor_kb:
        if hwm > ru:
            return hwm / _MIB, "vmhwm", False
        return ru / _MIB, "rusage", False
    if hwm > 0:
        return hwm / _MIB, "vmhwm", False
    return ru / _MIB, "rusage", True
