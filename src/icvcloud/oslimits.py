"""Operating-system limits a platform process raises at start."""

from __future__ import annotations

import logging

log = logging.getLogger("icvcloud.oslimits")


#: Open files wanted by a process holding both ends of 10,000+ terminals' connections
#: (``icv demo --vehicles 10000``: the fleet and the gateway in one process).
WANTED_NOFILE = 65536


def raise_nofile_limit() -> int | None:
    """Raise the soft open-files limit to the hard limit (10,000 sockets need it), and
    the hard limit too where the process may (root, or CAP_SYS_RESOURCE) and it is
    below :data:`WANTED_NOFILE`; returns the soft limit now in force, None where
    there is no such limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on Windows
        return None
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < WANTED_NOFILE:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 0), WANTED_NOFILE))
            hard = WANTED_NOFILE
        except (ValueError, OSError):
            pass  # not privileged: the hard limit stays
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError) as e:
        log.warning("could not raise the open-files limit from %d to %d: %s", soft, target, e)
        return soft
    return target
