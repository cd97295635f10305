// The alarm console's entry: builds the alarm panel, the alarm detail, the geofence
// editor and their topbar buttons into the running console, connects the alarm
// feed, and gives the vehicle detail its command button. main.ts calls
// installAlarmConsole once the map is loaded; window.icvAlarms exposes the parts to
// the browser tests.

import type { Map as MapLibreMap } from "maplibre-gl";
import type { Api } from "../api";
import type { Display } from "../geo/display";
import { onLangChange } from "../i18n";
import type { Me, Organisation } from "../types";
import { byId, h } from "../ui/dom";
import { openCommandDialog } from "../commands/dialog";
import { CommandTracker } from "../commands/tracker";
import { FenceEditor } from "../fences/editor";
import { COVERS_MAP } from "../map/insets";
import "./alarms.css";
import { Beeper } from "./beep";
import { AlarmDetailView } from "./detail";
import { AlarmFeed } from "./feed";
import { openHandleDialog } from "./handle-dialog";
import { AlarmMapLayers } from "./map-layers";
import type { Alarm } from "./model";
import { severityColour } from "./model";
import { AlarmPanel } from "./panel";
import { tx } from "./text";

export interface AlarmConsole {
  feed: AlarmFeed;
  panel: AlarmPanel;
  detail: AlarmDetailView;
  fences: FenceEditor;
  tracker: CommandTracker;
  beeper: Beeper;
  /** A geofence is being drawn: map clicks belong to the drawing, not to vehicles and clusters. */
  drawing(): boolean;
  /** Buttons for the vehicle detail's header (the command dialog). */
  vehicleButtons(vehicleId: number | null, plate: string): HTMLElement[];
  close(): void;
}

declare global {
  interface Window {
    icvAlarms?: AlarmConsole;
  }
}

export interface AlarmContext {
  api: Api;
  map: MapLibreMap;
  display: Display;
  me: Me;
  orgs: Organisation[];
  orgName(id: number | null): string;
}

export function canHandle(me: Me): boolean {
  return me.role === "operator" || me.role === "admin";
}

export function installAlarmConsole(ctx: AlarmContext): AlarmConsole {
  const { api, map, display, me } = ctx;
  const wrap = document.querySelector<HTMLElement>(".map-wrap")!;
  // Panels over the map: the camera keeps a selected vehicle out from under them.
  const panelEl = h("section", { id: "alarm-panel", class: "ax-panel", [COVERS_MAP]: true });
  const detailEl = h("section", { id: "alarm-detail", class: "ax-detail", hidden: true, [COVERS_MAP]: true });
  const fenceEl = h("section", { id: "fence-panel", class: "fx-panel", hidden: true, [COVERS_MAP]: true });
  wrap.append(panelEl, detailEl, fenceEl);

  const tracker = new CommandTracker(api);
  const beeper = new Beeper();
  const layers = new AlarmMapLayers(map, display);
  const fences = new FenceEditor(fenceEl, map, display, api, me.role === "admin");
  const detail: AlarmDetailView = new AlarmDetailView(detailEl, api, layers, {
    canHandle: canHandle(me),
    changed: (a) => panel.change(a, "local", false),
    handle: (a) => openHandleDialog(api, tracker, a, (updated) => {
      panel.change(updated, "local", false);
      void detail.reload();
    }),
    orgName: ctx.orgName,
  });
  const badge = h("b", { class: "ax-badge", id: "alarm-badge" }, "0");
  const alarmBtn = h("button", { type: "button", id: "alarm-toggle", class: "ax-top-btn" },
    h("span", { "data-tx": "alarms.button" }, tx("alarms.button")), " ", badge);
  const fenceBtn = h("button", { type: "button", id: "fence-toggle", class: "ax-top-btn" },
    h("span", { "data-tx": "fence.button" }, tx("fence.button")));
  const panel: AlarmPanel = new AlarmPanel(panelEl, api, ctx.orgs, beeper, (a: Alarm) => {
    panel.setSelected(a.id);
    if (!fenceEl.hidden) fences.setVisible(false);  // both sit at the map's left edge
    void detail.open(a.id);
  }, (n, top) => {
    badge.textContent = String(n);
    badge.style.background = top >= 0 ? severityColour(top) : "#64748b";
  });
  alarmBtn.addEventListener("click", () => (panelEl.hidden = !panelEl.hidden));
  fenceBtn.addEventListener("click", () => {
    if (fenceEl.hidden) {
      detail.close();
      panel.setSelected(null);
    }
    fences.setVisible(fenceEl.hidden);
  });
  byId("live-status").before(alarmBtn, fenceBtn);

  const feed = new AlarmFeed(api.getToken()!, (m) => {
    switch (m.type) {
      case "snapshot":
        panel.snapshot(m.items);
        break;
      case "alarm":
        panel.change(m.alarm, m.change, m.notify);
        detail.refresh(m.alarm);
        break;
      case "command":
        tracker.update(m.command);
        break;
      case "overflow":
        void panel.load();
        break;
    }
  }, (open) => panel.setFeedOpen(open));
  feed.connect();
  void panel.load();

  onLangChange(() => {
    for (const el of document.querySelectorAll<HTMLElement>("[data-tx]")) el.textContent = tx(el.dataset.tx!);
    panel.relabel();
    detail.render();
    if (!fenceEl.hidden) fences.render();
  });

  const handle: AlarmConsole = {
    feed, panel, detail, fences, tracker, beeper,
    drawing: () => fences.drawer.kind != null && fences.shape == null,
    vehicleButtons: (vehicleId, plate) => vehicleId == null ? [] : [h("button", { type: "button", id: "detail-command",
      title: canHandle(me) ? null : tx("cmd.needRole"),
      onclick: () => openCommandDialog(api, tracker, vehicleId, plate, canHandle(me)) }, tx("cmd.button"))],
    close: () => {
      feed.close();
      tracker.close();
      for (const el of [panelEl, detailEl, fenceEl, alarmBtn, fenceBtn]) el.remove();
      document.getElementById("handle-dialog")?.closest(".ax-backdrop")?.remove();
      document.getElementById("command-dialog")?.closest(".ax-backdrop")?.remove();
      window.icvAlarms = undefined;
    },
  };
  window.icvAlarms = handle;
  return handle;
}
