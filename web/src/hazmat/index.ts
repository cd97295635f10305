// The hazmat supervision pages' entry: the view tabs in the header (live map,
// dashboard, waybills, registry, reports), hash routing between them (every page
// is a link: #/hazmat/waybills/12/replay), and the page area that replaces the
// live map's list, map and detail while a hazmat page is open. main.ts calls
// installHazmatConsole once the console runs; window.icvHazmat exposes the parts
// to the browser tests.

import type { Map as MapLibreMap } from "maplibre-gl";
import type { Api } from "../api";
import type { Display } from "../geo/display";
import { onLangChange, t } from "../i18n";
import type { ConsoleConfig, Me, Organisation } from "../types";
import { byId, h } from "../ui/dom";
import { Registry, type HazmatContext, type HazmatView } from "./context";
import { dashboardView } from "./dashboard";
import "./hazmat.css";
import { HazmatMap } from "./hz-map";
import { registryView } from "./registry";
import { replayView } from "./replay";
import { reportsView } from "./reports";
import { formatRoute, parseHash, tabOf, type Route } from "./router";
import { waybillDetailView } from "./waybill-detail";
import { waybillFormView } from "./waybill-form";
import { waybillListView } from "./waybill-list";

type FC = GeoJSON.FeatureCollection;

export interface HazmatInstall {
  api: Api;
  me: Me;
  orgs: Organisation[];
  cfg: ConsoleConfig;
  roads: FC;
  districts: FC;
  display: Display;
  liveMap: MapLibreMap;
  orgName(id: number | null): string;
}

export interface HazmatConsole {
  route: Route;
  view: HazmatView | null;
  registry: Registry;
  /** The hazmat pages' map once a page needed it. */
  map: HazmatMap | null;
  go(route: Route): void;
  close(): void;
}

declare global {
  interface Window {
    icvHazmat?: HazmatConsole;
  }
}

const TABS = [
  { tab: "live", route: { view: "live" }, key: "nav.live" },
  { tab: "dashboard", route: { view: "dashboard" }, key: "nav.dashboard" },
  { tab: "waybills", route: { view: "waybills", filters: { state: "", org: null, vehicle: null, q: "", page: 1 } },
    key: "nav.waybills" },
  { tab: "registry", route: { view: "registry", tab: "enterprises" }, key: "nav.registry" },
  { tab: "reports", route: { view: "reports", month: null, org: null }, key: "nav.reports" },
] as const satisfies ReadonlyArray<{ tab: string; route: Route; key: string }>;

export function installHazmatConsole(opts: HazmatInstall): HazmatConsole {
  const appView = byId("app-view");
  const page = h("main", { class: "hz-view", id: "hazmat-view", hidden: true });
  appView.append(page);
  const nav = byId("view-nav");
  const registry = new Registry(opts.api);
  let mapPromise: Promise<HazmatMap> | null = null;

  const ctx: HazmatContext = {
    api: opts.api, me: opts.me, orgs: opts.orgs, cfg: opts.cfg, display: opts.display, orgName: opts.orgName, registry,
    go: (r) => {
      const hash = formatRoute(r);
      if (location.hash === hash) render();
      else location.hash = hash;
    },
    map: async (slot) => {
      mapPromise ??= HazmatMap.create(opts.cfg, opts.roads, opts.districts, opts.display).then((m) => {
        handle.map = m;
        return m;
      });
      const m = await mapPromise;
      m.place(slot);
      return m;
    },
  };

  function renderNav(current: string): void {
    document.querySelector(".topbar .brand img")?.setAttribute("title", t("app.title"));
    nav.replaceChildren(...TABS.map((x) => h("a", { href: formatRoute(x.route), id: `nav-${x.tab}`,
      class: `view-tab${x.tab === current ? " active" : ""}`, "data-tab": x.tab,
      "aria-current": x.tab === current ? "page" : null }, t(x.key))));
  }

  function viewFor(r: Route): HazmatView | null {
    switch (r.view) {
      case "live":
        return null;
      case "dashboard":
        return dashboardView(ctx);
      case "waybills":
        return waybillListView(ctx, r.filters);
      case "waybill-new":
        return waybillFormView(ctx);
      case "waybill":
        return waybillDetailView(ctx, r.id);
      case "replay":
        return replayView(ctx, r.id);
      case "registry":
        return registryView(ctx, r.tab);
      case "reports":
        return reportsView(ctx, r.month, r.org);
    }
  }

  function render(): void {
    const r = parseHash(location.hash);
    handle.view?.leave();
    handle.route = r;
    const view = viewFor(r);
    handle.view = view;
    const hazmat = view != null;
    appView.classList.toggle("hz-on", hazmat);
    page.hidden = !hazmat;
    page.replaceChildren(...(view ? [view.el] : []));
    page.dataset.route = location.hash;
    page.scrollTop = 0;
    renderNav(tabOf(r.view));
    if (!hazmat) opts.liveMap.resize();
  }

  // The alarm and geofence buttons belong to the live map: from a hazmat page they lead there.
  const toLive = (e: MouseEvent) => {
    if (!appView.classList.contains("hz-on")) return;
    const btn = (e.target as Element | null)?.closest("#alarm-toggle, #fence-toggle");
    if (!btn) return;
    e.stopPropagation();
    ctx.go({ view: "live" });
    if (btn.id === "alarm-toggle") document.getElementById("alarm-panel")?.removeAttribute("hidden");
    else if (document.getElementById("fence-panel")?.hidden) window.icvAlarms?.fences.setVisible(true);
  };
  document.addEventListener("click", toLive, true);
  window.addEventListener("hashchange", render);
  let closed = false;
  onLangChange(() => {
    if (closed) return;
    // The form keeps what was typed; every other page is drawn again in the new language.
    if (handle.route.view === "waybill-new") renderNav(tabOf(handle.route.view));
    else render();
    handle.map?.relabel();
  });

  const handle: HazmatConsole = {
    route: { view: "live" }, view: null, registry, map: null,
    go: ctx.go,
    close: () => {
      closed = true;
      handle.view?.leave();
      window.removeEventListener("hashchange", render);
      document.removeEventListener("click", toLive, true);
      page.remove();
      nav.replaceChildren();
      appView.classList.remove("hz-on");
      handle.map?.map.remove();
      handle.map?.el.remove();
      window.icvHazmat = undefined;
    },
  };
  window.icvHazmat = handle;
  render();
  return handle;
}
