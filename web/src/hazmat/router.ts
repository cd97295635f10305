// The console's hash routes: #/live (the live map, also the empty hash) and the hazmat
// views under #/hazmat/…, with list filters in the hash's query so every view is a
// link a supervisor can bookmark or send. Pure: parse and format only.

export const REGISTRY_TABS = ["enterprises", "vehicles", "people", "findings"] as const;
export type RegistryTab = (typeof REGISTRY_TABS)[number];

export interface WaybillFilters {
  state: string;
  org: number | null;
  vehicle: number | null;
  q: string;
  page: number;
}

export type Route =
  | { view: "live" }
  | { view: "dashboard" }
  | { view: "waybills"; filters: WaybillFilters }
  | { view: "waybill-new" }
  | { view: "waybill"; id: number }
  | { view: "replay"; id: number }
  | { view: "registry"; tab: RegistryTab }
  | { view: "reports"; month: string | null; org: number | null };

export type View = Route["view"];

export const NO_FILTERS: WaybillFilters = { state: "", org: null, vehicle: null, q: "", page: 1 };

function posInt(v: string | null): number | null {
  if (v == null || !/^\d{1,10}$/.test(v)) return null;
  const n = Number(v);
  return n >= 1 && n <= 2_147_483_647 ? n : null;
}

/** The route of a location hash ("#/hazmat/waybills/12"); anything unknown is the live map. */
export function parseHash(hash: string): Route {
  const raw = hash.replace(/^#/, "");
  const [path, query = ""] = raw.split("?", 2);
  const q = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean).map((p) => decodeURIComponent(p));
  if (parts[0] !== "hazmat") return { view: "live" };
  const [, section, a, b] = parts;
  switch (section) {
    case undefined:
    case "dashboard":
      return { view: "dashboard" };
    case "waybills": {
      if (a === "new") return { view: "waybill-new" };
      const id = posInt(a ?? null);
      if (id != null) return b === "replay" ? { view: "replay", id } : { view: "waybill", id };
      return { view: "waybills", filters: { state: q.get("state") ?? "", org: posInt(q.get("org")),
        vehicle: posInt(q.get("vehicle")), q: (q.get("q") ?? "").slice(0, 64), page: posInt(q.get("page")) ?? 1 } };
    }
    case "registry":
      return { view: "registry", tab: (REGISTRY_TABS as readonly string[]).includes(a ?? "") ? a as RegistryTab
        : "enterprises" };
    case "reports": {
      const m = q.get("month");
      return { view: "reports", month: m && /^\d{4}-(0[1-9]|1[0-2])$/.test(m) ? m : null, org: posInt(q.get("org")) };
    }
    default:
      return { view: "dashboard" };
  }
}

/** The hash of a route; parseHash(formatRoute(r)) gives r back. */
export function formatRoute(r: Route): string {
  switch (r.view) {
    case "live":
      return "#/live";
    case "dashboard":
      return "#/hazmat/dashboard";
    case "waybills": {
      const q = new URLSearchParams();
      const f = r.filters;
      if (f.state) q.set("state", f.state);
      if (f.org != null) q.set("org", String(f.org));
      if (f.vehicle != null) q.set("vehicle", String(f.vehicle));
      if (f.q) q.set("q", f.q);
      if (f.page > 1) q.set("page", String(f.page));
      const s = q.toString();
      return `#/hazmat/waybills${s ? `?${s}` : ""}`;
    }
    case "waybill-new":
      return "#/hazmat/waybills/new";
    case "waybill":
      return `#/hazmat/waybills/${r.id}`;
    case "replay":
      return `#/hazmat/waybills/${r.id}/replay`;
    case "registry":
      return `#/hazmat/registry/${r.tab}`;
    case "reports": {
      const q = new URLSearchParams();
      if (r.month) q.set("month", r.month);
      if (r.org != null) q.set("org", String(r.org));
      const s = q.toString();
      return `#/hazmat/reports${s ? `?${s}` : ""}`;
    }
  }
}

/** Which top-level tab a view belongs to. */
export function tabOf(view: View): "live" | "dashboard" | "waybills" | "registry" | "reports" {
  switch (view) {
    case "waybill-new":
    case "waybill":
    case "replay":
    case "waybills":
      return "waybills";
    default:
      return view;
  }
}
