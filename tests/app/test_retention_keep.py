"""The embedded platform prunes its log only below what every consumer still needs."""

from __future__ import annotations

from pathlib import Path

from icvcloud import config
from icvcloud.app.platform import Platform


async def test_the_log_is_kept_for_the_slowest_consumer(tmp_path: Path) -> None:
    cfg = config.load(env={"ICV__STORAGE__DATA_DIR": str(tmp_path), "ICV__JT808__HOST": "127.0.0.1",
                           "ICV__JT808__PORT": "0", "ICV__ATTACHMENTS__HOST": "127.0.0.1",
                           "ICV__ATTACHMENTS__PORT": "0", "ICV__LOGGING__LEVEL": "WARNING"})
    p = Platform(cfg)
    await p.start(api=False)
    try:
        assert p.alarm_runtime is not None and p.attachments is not None and p.attachments.requester is not None
        p.pipeline.offset = 900
        p.alarm_runtime.consumer.checkpoint_offset = 700
        p.attachments.requester.offset = 800
        assert p.log_keep_offset() == 700  # the alarm engine replays from its checkpoint
        p.attachments.requester.offset = 500
        assert p.log_keep_offset() == 500  # alarms whose evidence was not yet asked for
        p.alarm_runtime.consumer.checkpoint_offset = p.attachments.requester.offset = 1000
        assert p.log_keep_offset() == 900  # the store consumer
    finally:
        await p.stop()
