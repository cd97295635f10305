"""Retention as the platform runs it: alarms past ``alarm_retention_days`` go with their
evidence files, positions past ``track_retention_days`` go; newer ones stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from icvcloud.app.admission import StoreAdmission
from icvcloud.app.alarm_runtime import AlarmRuntime
from icvcloud.config import Config
from icvcloud.gateways.jt808 import Jt808Gateway
from icvcloud.model import Position, Vehicle
from icvcloud.model.alarms import AlarmEvent, Severity
from icvcloud.store.alarms_base import AlarmFilter, Attachment
from icvcloud.store.base import Scope
from icvcloud.store.sqlite import SqliteStore

from ..api.conftest import MemoryLog

NOW = datetime(2027, 6, 1, tzinfo=UTC)


async def test_prune_once(tmp_path: Path) -> None:
    cfg = Config()
    cfg.storage.data_dir = str(tmp_path)
    store = SqliteStore(tmp_path / "store.db")
    await store.open()
    try:
        log = MemoryLog()
        rt = AlarmRuntime(cfg, log, store, Jt808Gateway(log, StoreAdmission(store)))
        org = await store.add_organisation("x")
        vid = await store.add_vehicle(Vehicle(id=0, plate="鲁C12345", org_id=org, device_id="1001"))
        old, recent = NOW - timedelta(days=1200), NOW - timedelta(days=30)
        events = [AlarmEvent(k, vid, "1001", org, "adas.forward_collision", "active_safety", "instant", Severity.HIGH,
                             t, details={"alarm_ref": k}) for k, t in (("old", old), ("recent", recent))]
        await rt.alarms.apply_events(events, NOW, merge_window_s=0)
        for k in ("old", "recent"):
            f = tmp_path / "attachments" / k / "a.jpg"
            f.parent.mkdir(parents=True)
            f.write_bytes(b"jpeg")
            await rt.alarms.add_attachment(Attachment(0, None, "1001", "a.jpg", f"attachments/{k}/a.jpg", org,
                                                      alarm_ref=k))
        await store.write_positions([Position("1001", t, i, t, 36.8, 118.0)
                                     for i, t in enumerate((NOW - timedelta(days=200), NOW - timedelta(days=100)))])
        counts = await rt.prune_once(NOW)
        assert counts == {"alarms": 1, "commands": 0, "webhook_deliveries": 0, "positions": 1, "attachment_files": 1}
        assert not (tmp_path / "attachments" / "old" / "a.jpg").exists()
        assert (tmp_path / "attachments" / "recent" / "a.jpg").exists()
        rows, _ = await rt.alarms.list_alarms(Scope.all(), AlarmFilter())
        assert [a.key for a in rows] == ["recent"]
        assert await store.count_positions("1001") == 1
    finally:
        await store.close()
