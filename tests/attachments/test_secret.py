"""The alarm numbers' key: configured, or generated once per data directory — one key
even when several processes (a gateway and a worker, several gateways) start together
on one directory, since an attachment is accepted only under a number its own key made."""

from __future__ import annotations

import multiprocessing
import os
import stat
from pathlib import Path
from typing import Any

from icvcloud import config
from icvcloud.app.attachments import load_secret


def _cfg(data_dir: Path, secret: str = "") -> config.Config:
    return config.load(env={"ICV__STORAGE__DATA_DIR": str(data_dir), "ICV__ATTACHMENTS__SECRET": secret})


def test_a_configured_secret_is_used_as_is(tmp_path: Path) -> None:
    assert load_secret(_cfg(tmp_path, "淄博-key")) == "淄博-key".encode()
    assert not (tmp_path / "attachments" / ".secret").exists()


def test_a_generated_secret_is_kept_private_and_reused(tmp_path: Path) -> None:
    key = load_secret(_cfg(tmp_path))
    assert len(key) == 64 and load_secret(_cfg(tmp_path)) == key
    path = tmp_path / "attachments" / ".secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in path.parent.iterdir()) == [".secret"]  # no candidate left behind


def _load(data_dir: str, start: Any, out: Any) -> None:
    start.wait()
    out.put((os.getpid(), load_secret(_cfg(Path(data_dir)))))


def test_processes_starting_together_agree_on_one_key(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    for round_ in range(3):
        data_dir = tmp_path / f"d{round_}"
        start, out = ctx.Barrier(8), ctx.Queue()
        procs = [ctx.Process(target=_load, args=(str(data_dir), start, out)) for _ in range(8)]
        for p in procs:
            p.start()
        keys = {out.get(timeout=60)[1] for _ in procs}
        for p in procs:
            p.join(30)
        assert len(keys) == 1 and len(next(iter(keys))) == 64, keys
        assert (data_dir / "attachments" / ".secret").read_bytes() == next(iter(keys))
