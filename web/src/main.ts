// The console's entry point: log in, then wire the map, the panels and the live feed.
// window.icvConsole exposes the parts to the browser tests and `icv bench console`.

import "maplibre-gl/dist/maplibre-gl.css";
import "./styles.css";
import { setWorkerUrl, type Map as MapLibreMap } from "maplibre-gl";
import workerUrl from "maplibre-gl/dist/maplibre-gl-worker.mjs?url";
import { installAlarmConsole } from "./alarms";
import { installHazmatConsole } from "./hazmat";
import { startDriver } from "./hazmat/driver";
import { Api } from "./api";
import { Fleet } from "./fleet";
import { displayFor, type Display } from "./geo/display";
import { applyI18n, getLang, onLangChange, setLang, t, type Key } from "./i18n";
import { LiveClient, type LiveStatus } from "./live";
import { createMap, relabel } from "./map/basemap";
import { iconDataUrl } from "./map/icons";
import { centreOffset, overlayInsets, syncSize } from "./map/insets";
import { VEHICLE_LAYER, VehiclesLayer } from "./map/vehicles";
import { DetailPanel } from "./panels/detail";
import { ListPanel } from "./panels/list";
import { showLogin } from "./panels/login";
import { PlaybackPanel } from "./panels/playback";
import { Perf } from "./perf";
import { forgetToken, resume, storedToken } from "./session";
import type { ConsoleConfig, Me, Organisation, VehiclePage } from "./types";
import { byId, h } from "./ui/dom";
import { STATES, type StateCounts } from "./vehicle-state";

// The bundle names MapLibre's worker as its own asset: served from /assets like the rest.
setWorkerUrl(workerUrl);

const REGISTRY_PAGE = 1000;

export interface ConsoleHandle {
  map: MapLibreMap;
  fleet: Fleet;
  live: LiveClient;
  vehicles: VehiclesLayer;
  list: ListPanel;
  detail: DetailPanel;
  playback: PlaybackPanel;
  perf: Perf;
  display: Display;
  me: Me;
  select(key: string | null): void;
  registryLoaded: boolean;
}

declare global {
  interface Window {
    icvConsole?: ConsoleHandle;
  }
}

const api = new Api(storedToken(), () => expired());
let handle: ConsoleHandle | null = null;

function expired(): void {
  if (!handle) return;
  teardown();
  showLogin(api, startSafely, t("login.expired"));
}

function teardown(): void {
  window.icvAlarms?.close();
  window.icvHazmat?.close();
  handle?.live.close();
  handle?.map.remove();
  handle = null;
  window.icvConsole = undefined;
  forgetToken();
  api.setToken(null);
}

function whenLoaded(map: MapLibreMap): Promise<void> {
  return map.loaded() ? Promise.resolve() : new Promise((resolve) => map.once("load", () => resolve()));
}

async function loadRegistry(fleet: Fleet): Promise<void> {
  // Every vehicle the caller may see, including those that never reported (the
  // live snapshot only has vehicles with a position).
  for (let offset = 0; ; offset += REGISTRY_PAGE) {
    const page = await api.get<VehiclePage>("/vehicles", { limit: REGISTRY_PAGE, offset });
    if (page.items.length) fleet.upsert(page.items, "registry");
    if (offset + page.items.length >= page.total || !page.items.length) return;
  }
}

function renderTotals(totals: StateCounts): void {
  const el = byId("totals");
  el.replaceChildren(
    h("span", { class: "total" }, t("top.total"), " ", h("b", { "data-total": "all" }, totals.total)),
    ...STATES.map((s) => h("span", { class: `total total-${s}` }, h("i", { class: `dot dot-${s}` }),
      t(`state.${s}`), " ", h("b", { "data-total": s }, totals[s]))),
  );
}

function renderLegend(): void {
  const types = ["hazmat_tanker", "hazmat_van", "coach", "bus", "sanitation", "school_bus", "muck_truck", "taxi"];
  byId("legend").replaceChildren(
    h("div", { class: "legend-title" }, t("legend.title")),
    h("div", { class: "legend-states" }, ...STATES.map((s) => h("span", {}, h("i", { class: `dot dot-${s}` }),
      t(`state.${s}`)))),
    h("div", { class: "legend-types" }, ...types.map((ty) => h("span", {},
      h("img", { src: iconDataUrl(ty, "moving"), alt: "" }), t(`type.${ty}` as Key)))),
    h("div", { class: "legend-cluster" }, h("i", { class: "cluster-dot" }), t("legend.cluster")),
  );
}

function renderLiveStatus(s: LiveStatus): void {
  const el = byId("live-status");
  el.className = `live-status live-${s}`;
  el.dataset.status = s;
  el.textContent = t(`top.live.${s}`);
}

async function start(me: Me): Promise<void> {
  byId("login-view").hidden = true;
  byId("app-view").hidden = false;
  const roleKey = `top.role.${me.role}` as Key;
  const userEl = byId("user-name");
  const renderUser = () => (userEl.textContent = `${me.username} · ${t(roleKey)}`);
  renderUser();
  const [cfg, orgs] = await Promise.all([
    api.get<ConsoleConfig>("/console/config"),
    api.get<Organisation[]>("/organisations"),
  ]);
  const [roads, districts] = await Promise.all([
    fetch(cfg.roads_url).then((r) => r.json() as Promise<GeoJSON.FeatureCollection>),
    fetch(cfg.districts_url).then((r) => r.json() as Promise<GeoJSON.FeatureCollection>),
  ]);
  byId("schematic-note").hidden = cfg.basemap.kind !== "none";
  const display = displayFor(cfg.basemap.coords);
  const map = createMap(byId("map"), cfg, roads, districts, display);
  await whenLoaded(map);
  const perf = new Perf();
  const fleet = new Fleet();
  const vehicles = new VehiclesLayer(map, fleet, display, perf);
  let followKey: string | null = null;
  // Where a vehicle brought into view goes: the centre of what the floating panels leave.
  const uncoveredOffset = () => centreOffset(overlayInsets(byId("map"), document));

  const select = (key: string | null) => {
    vehicles.setSelected(key);
    list.setSelected(key);
    detail.show(key);
    const p = key ? fleet.get(key)?.item.position : null;
    syncSize(map); // the detail panel, just shown, narrows the map
    if (p) map.easeTo({ center: display.project(p.lon, p.lat), zoom: Math.max(map.getZoom(), 14), duration: 600,
      offset: uncoveredOffset() });
  };
  const list = new ListPanel(byId("list-panel"), fleet, orgs, (k) => select(k), (pred) => vehicles.setFilter(pred),
    renderTotals);
  const detail = new DetailPanel(byId("detail-panel"), fleet, api, me, {
    close: () => select(null),
    playback: (k) => playback.open(k),
    follow: (k) => (followKey = k),
    orgName: (id) => list.orgName(id),
    extraButtons: (rec) => window.icvAlarms?.vehicleButtons(rec.item.id, rec.item.plate) ?? [],
  });
  const playback = new PlaybackPanel(byId("playback-panel"), map, fleet, api, display, cfg.alarm_bits,
    (open) => vehicles.setVisible(!open));
  fleet.onChange((c) => {
    if (!followKey || (c.keys && !c.keys.has(followKey))) return;
    const p = fleet.get(followKey)?.item.position;
    if (p) map.easeTo({ center: display.project(p.lon, p.lat), duration: 300, offset: uncoveredOffset() });
  });

  // Clicks on the map: a vehicle selects it, a cell of vehicles zooms into it. While a
  // geofence is drawn, clicks belong to the drawing.
  map.on("click", VEHICLE_LAYER, (e) => {
    const k = e.features?.[0]?.properties?.k;
    if (typeof k === "string" && !window.icvAlarms?.drawing()) select(k);
  });
  map.on("click", (e) => {
    const hit = vehicles.hitAt([e.point.x, e.point.y]);
    if (!hit || window.icvAlarms?.drawing()) return;
    if (hit.kind === "one") select(hit.vehicle);
    else map.fitBounds([[hit.bounds[0], hit.bounds[1]], [hit.bounds[2], hit.bounds[3]]],
      { padding: 80, maxZoom: Math.max(map.getZoom() + 2, 13) });
  });
  map.on("mouseenter", VEHICLE_LAYER, () => (map.getCanvas().style.cursor = "pointer"));
  map.on("mouseleave", VEHICLE_LAYER, () => (map.getCanvas().style.cursor = ""));
  let overMark = false;
  map.on("mousemove", (e) => {
    const over = vehicles.hitAt([e.point.x, e.point.y]) != null;
    if (over !== overMark) map.getCanvas().style.cursor = over ? "pointer" : "";
    overMark = over;
  });

  const live = new LiveClient(api.getToken()!, fleet, renderLiveStatus, () => {
    void resume(api).then((m) => {
      if (!m) expired();
    });
  });
  handle = { map, fleet, live, vehicles, list, detail, playback, perf, display, me, select, registryLoaded: false };
  window.icvConsole = handle;
  installAlarmConsole({ api, map, display, me, orgs, orgName: (id) => list.orgName(id) });
  installHazmatConsole({ api, me, orgs, cfg, roads, districts, display, liveMap: map, orgName: (id) => list.orgName(id) });
  renderLegend();
  onLangChange((lang) => {
    relabel(map, lang);
    renderUser();
    renderLegend();
    renderLiveStatus(live.status);
  });
  live.connect();
  await loadRegistry(fleet);
  handle.registryLoaded = true;
}

/** A failure while starting (the server went away, say) leads back to the login page, said why. */
function startSafely(me: Me): void {
  if (me.role === "driver") {  // a driver's own account: its waybills only
    startDriver(api, me, () => { teardown(); showLogin(api, startSafely); }).catch((e: unknown) => {
      showLogin(api, startSafely, t("login.error", { detail: e instanceof Error ? e.message : String(e) }));
    });
    return;
  }
  start(me).catch((e: unknown) => {
    console.error("console start failed", e);
    handle?.live.close();
    handle = null;
    showLogin(api, startSafely, t("login.error", { detail: e instanceof Error ? e.message : String(e) }));
  });
}

function boot(): void {
  setLang(getLang());
  for (const btn of document.querySelectorAll<HTMLButtonElement>(".lang-toggle")) {
    btn.addEventListener("click", () => setLang(getLang() === "zh" ? "en" : "zh"));
  }
  byId("logout").addEventListener("click", () => {
    teardown();
    showLogin(api, startSafely);
  });
  applyI18n(document);
  void resume(api).then(
    (me) => (me ? startSafely(me) : showLogin(api, startSafely)),
    () => showLogin(api, startSafely),
  );
}

boot();
