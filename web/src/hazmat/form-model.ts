// The waybill form's data: what the user entered → the POST /hazmat/waybills body,
// or what is still missing; which form section a refusal's reason code concerns;
// the reasons out of a 422 (the waybill checks' list, or FastAPI's validation list).
// Pure; unit-tested.

import { fromLocalInput } from "../format";
import type { HxKey } from "./text";
import type { Area, LonLat, PackingGroup, Reason, Unit } from "./types";

export interface CargoDraft {
  un: string;
  name: string;
  cls: string;
  pg: string;
  qty: string;
  unit: Unit;
}

export interface SiteDraft {
  name: string;
  address: string;
  area: Area | null;
}

export interface WaybillDraft {
  org: number | null;
  number: string;
  shipper: string;
  consignee: string;
  vehicle: number | null;
  driver: number | null;
  escort: number | null;
  cargo: CargoDraft[];
  origin: SiteDraft;
  destination: SiteDraft;
  depFrom: string;
  depUntil: string;
  arrFrom: string;
  arrUntil: string;
  route: LonLat[];
  corridor: number;
}

export type Built = { ok: true; body: Record<string, unknown> } | { ok: false; missing: HxKey[] };

const round6 = (v: number) => Math.round(v * 1e6) / 1e6;

function areaJson(a: Area): Area {
  switch (a.kind) {
    case "circle":
      return { kind: "circle", center: [round6(a.center[0]), round6(a.center[1])], radius_m: Math.max(1, Math.round(a.radius_m)) };
    case "rectangle":
      return { kind: "rectangle", points: [[round6(a.points[0][0]), round6(a.points[0][1])],
        [round6(a.points[1][0]), round6(a.points[1][1])]] };
    case "polygon":
      return { kind: "polygon", points: a.points.map((p) => [round6(p[0]), round6(p[1])] as LonLat) };
  }
}

export function unDigits(s: string): string | null {
  const m = /^\s*(?:UN\s?)?(\d{4})\s*$/i.exec(s);
  return m ? m[1] : null;
}

/** The request body, or the keys of what is missing (in the form's order). */
export function buildWaybill(d: WaybillDraft): Built {
  const missing: HxKey[] = [];
  if (d.org == null) missing.push("wf.missing.carrier");
  if (!d.shipper.trim()) missing.push("wf.missing.shipper");
  if (!d.consignee.trim()) missing.push("wf.missing.consignee");
  if (d.vehicle == null) missing.push("wf.missing.vehicle");
  if (d.driver == null) missing.push("wf.missing.driver");
  const cargoOk = d.cargo.length > 0 && d.cargo.every((c) => unDigits(c.un) && c.cls.trim() && Number(c.qty) > 0
    && Number.isFinite(Number(c.qty)));
  if (!cargoOk) missing.push("wf.missing.cargo");
  if (!d.origin.name.trim() || !d.origin.area) missing.push("wf.missing.origin");
  if (!d.destination.name.trim() || !d.destination.area) missing.push("wf.missing.destination");
  const times = [d.depFrom, d.depUntil, d.arrFrom, d.arrUntil].map(fromLocalInput);
  if (times.some((t) => t == null)) missing.push("wf.missing.windows");
  if (d.route.length < 2) missing.push("wf.missing.route");
  if (!(d.corridor >= 1 && d.corridor <= 5000)) missing.push("wf.missing.width");
  if (missing.length) return { ok: false, missing };
  const body: Record<string, unknown> = {
    org_id: d.org,
    shipper: d.shipper.trim(),
    consignee: d.consignee.trim(),
    vehicle_id: d.vehicle,
    driver_id: d.driver,
    escort_id: d.escort,
    cargo: d.cargo.map((c) => ({ un_number: unDigits(c.un), name: c.name.trim(), hazard_class: c.cls.trim(),
      packing_group: (c.pg || null) as PackingGroup | null, quantity: Number(c.qty), unit: c.unit })),
    origin: { name: d.origin.name.trim(), address: d.origin.address.trim(), area: areaJson(d.origin.area!) },
    destination: { name: d.destination.name.trim(), address: d.destination.address.trim(),
      area: areaJson(d.destination.area!) },
    departure_from: times[0], departure_until: times[1], arrival_from: times[2], arrival_until: times[3],
    route: d.route.map((p) => [round6(p[0]), round6(p[1])]),
    corridor_m: d.corridor,
  };
  if (d.number.trim()) body.number = d.number.trim();
  return { ok: true, body };
}

export type Section = "carrier" | "vehicle" | "driver" | "escort" | "cargo" | "windows" | "route" | "sites" | "number";

/** The part of the form a refusal's reason code is about. */
export function sectionOf(code: string): Section | null {
  if (code.startsWith("driver_")) return "driver";
  if (code.startsWith("escort_")) return "escort";
  if (code.startsWith("vehicle_") || code.startsWith("terminal_")) return "vehicle";
  if (code.startsWith("licence_") || code.startsWith("enterprise_")) return "carrier";
  if (["un_unknown", "class_mismatch", "packing_group", "quantity"].includes(code)) return "cargo";
  if (code === "window") return "windows";
  if (code === "route") return "route";
  if (code === "site") return "sites";
  return null;
}

/** Every reason in a 422's body: the waybill checks' ``reasons``, else FastAPI's validation list. */
export function reasonsOf(body: unknown): Reason[] {
  if (!body || typeof body !== "object") return [];
  const o = body as { reasons?: unknown; detail?: unknown };
  if (Array.isArray(o.reasons)) {
    return o.reasons.filter((r): r is Reason => !!r && typeof r === "object" && "message" in r)
      .map((r) => ({ code: String(r.code ?? ""), message: String(r.message) }));
  }
  if (Array.isArray(o.detail)) {
    return o.detail.map((e: { loc?: unknown[]; msg?: string }) => ({ code: "invalid",
      message: `${(e.loc ?? []).filter((x) => x !== "body").join(".")}: ${e.msg ?? ""}` }));
  }
  return typeof o.detail === "string" ? [{ code: "error", message: o.detail }] : [];
}
