"""Fixtures for attachment retrieval: a whole embedded platform (gateway, log, store,
attachment server, 0x9208 requester) on loopback, and a bare attachment server with
a recording sink; virtual terminals speak the real protocols to both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from icvcloud import config
from icvcloud.app.platform import Platform
from icvcloud.gateways.jt808.attachment_request import AlarmNumbers
from icvcloud.gateways.jt808.attachments import AttachmentServer, AttachmentServerSettings, StoredFile
from icvcloud.protocols.jt808.active_safety import AlarmIdentification

SECRET = b"test-secret"


@pytest.fixture
async def platform(tmp_path: Path) -> AsyncIterator[Platform]:
    cfg = config.load(env={
        "ICV__STORAGE__DATA_DIR": str(tmp_path / "data"),
        "ICV__JT808__HOST": "127.0.0.1",
        "ICV__JT808__PORT": "0",
        "ICV__ATTACHMENTS__HOST": "127.0.0.1",
        "ICV__ATTACHMENTS__PORT": "0",
        "ICV__LOGGING__LEVEL": "WARNING",
        # Retrieval on its own: files are recorded by the default sink (upload.json);
        # linking them to alarms is the alarm runtime's part, tested with it.
        "ICV__ALARMS__ENABLED": "false",
    })
    p = Platform(cfg)
    await p.start(api=False)
    try:
        yield p
    finally:
        await p.stop()


@dataclass
class RecordingSink:
    """An AttachmentSink that keeps what it was told (what the alarms table would store)."""

    files: list[tuple[str, str, str, int, int, Path]] = field(default_factory=list)
    uploads: list[tuple[str, str, AlarmIdentification, list[StoredFile]]] = field(default_factory=list)
    fail_files: int = 0  # fail this many on_file_complete calls first

    async def on_file_complete(self, alarm_no: str, device_id: str, file_name: str, file_type: int, size: int,
                               path: Path) -> None:
        if self.fail_files > 0:
            self.fail_files -= 1
            raise RuntimeError("attachments table unavailable")
        self.files.append((alarm_no, device_id, file_name, file_type, size, path))

    async def on_upload_complete(self, alarm_no: str, device_id: str, identification: AlarmIdentification,
                                 files: Sequence[StoredFile]) -> None:
        self.uploads.append((alarm_no, device_id, identification, list(files)))


@dataclass
class Bare:
    server: AttachmentServer
    sink: RecordingSink
    numbers: AlarmNumbers
    root: Path

    @property
    def port(self) -> int:
        return self.server.port


@pytest.fixture
async def bare(tmp_path: Path) -> AsyncIterator[Bare]:
    numbers = AlarmNumbers(SECRET)
    sink = RecordingSink()
    root = tmp_path / "attachments"
    server = AttachmentServer(AttachmentServerSettings(root=root, numbers=numbers, max_errors=8,
                                                       max_file_bytes=1 << 20), sink)
    await server.start("127.0.0.1", 0)
    try:
        yield Bare(server, sink, numbers, root)
    finally:
        await server.stop()
