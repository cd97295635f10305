"""Files from the attachment server → rows of the alarms' attachments table.

The attachment server (``gateways/jt808/attachments.py``) stores each file under the
data directory and tells its sink; this sink records the file against the alarm
number (报警编号) it was uploaded under. The alarm consumer puts the same number in
the active-safety alarm's details (``alarm_ref``), and the store links the two
whichever arrives first.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from icvcloud.gateways.jt808.attachments import StoredFile
from icvcloud.protocols.jt808.active_safety import AlarmIdentification
from icvcloud.store.alarms_base import AlarmStore, Attachment
from icvcloud.store.base import Store

#: T/JSATL 12 file types → a media type when the file name says nothing better.
_FILE_TYPES = {0: "image/jpeg", 1: "audio/wav", 2: "video/mp4", 3: "text/plain"}


def media_type(file_name: str, file_type: int) -> str:
    guessed, _ = mimetypes.guess_type(file_name)
    return guessed or _FILE_TYPES.get(file_type, "application/octet-stream")


class StoreAttachmentSink:
    def __init__(self, alarms: AlarmStore, store: Store, data_dir: Path) -> None:
        self.alarms = alarms
        self.store = store
        self.data_dir = data_dir

    async def on_file_complete(self, alarm_no: str, device_id: str, file_name: str, file_type: int, size: int,
                               path: Path) -> None:
        vehicle = await self.store.vehicle_for_device(device_id)
        try:
            rel = path.resolve().relative_to(self.data_dir.resolve())
        except ValueError:
            rel = path  # outside the data directory (a test's server root): kept as given
        await self.alarms.add_attachment(Attachment(
            id=0, alarm_id=None, device_id=device_id, file_name=file_name, path=str(rel),
            org_id=vehicle.org_id if vehicle else None, alarm_ref=alarm_no,
            media_type=media_type(file_name, file_type), size_bytes=size, complete=True,
            received_at=datetime.now(UTC)))

    async def on_upload_complete(self, alarm_no: str, device_id: str, identification: AlarmIdentification,
                                 files: Sequence[StoredFile]) -> None:
        """Every file was recorded as it completed; nothing more to do."""
