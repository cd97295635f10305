"""The open-files limit a gateway process raises at start (a socket per terminal)."""

from __future__ import annotations

import resource
import subprocess
import sys

from icvcloud.oslimits import WANTED_NOFILE


def test_a_process_raises_its_open_files_limit() -> None:
    # In a child started with a low limit, as on a default desktop session (1024).
    code = ("import resource; from icvcloud.oslimits import raise_nofile_limit; n = raise_nofile_limit(); "
            "print(n, *resource.getrlimit(resource.RLIMIT_NOFILE))")

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 4096))

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         preexec_fn=low_limit).stdout.split()
    returned, soft, hard = (int(x) for x in out)
    assert returned == soft == hard  # the soft limit went up to the hard one
    if _may_raise_hard_limits():  # a privileged process also lifts the hard limit
        assert hard >= WANTED_NOFILE
    else:
        assert hard == 4096


def _may_raise_hard_limits() -> bool:
    """CAP_SYS_RESOURCE (bit 24) in the effective set: root on a machine, often not in a container."""
    with open("/proc/self/status") as f:
        caps = next(line for line in f if line.startswith("CapEff:")).split()[1]
    return bool(int(caps, 16) >> 24 & 1)
