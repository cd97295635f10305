import { describe, expect, it } from "vitest";
import { setLang } from "../src/i18n";
import { niceMax } from "../src/hazmat/charts";
import { distanceToRouteM, outsideIndices, routeFromGeoJSON, routeLengthKm, runs } from "../src/hazmat/corridor";
import { beijingDay, daysLeft, monthRange, pct, shiftMonth, validity } from "../src/hazmat/dates";
import { buildWaybill, reasonsOf, sectionOf, unDigits, type WaybillDraft } from "../src/hazmat/form-model";
import { dailyRows } from "../src/hazmat/reports";
import { formatRoute, parseHash, tabOf, type Route } from "../src/hazmat/router";
import { className, findingTypeName, HX_DICTS, hx, stateName } from "../src/hazmat/text";
import { plannedWindow } from "../src/hazmat/trip";
import type { LonLat, Waybill } from "../src/hazmat/types";

describe("hazmat routes", () => {
  it("round-trips every view through the hash", () => {
    const routes: Route[] = [
      { view: "live" }, { view: "dashboard" },
      { view: "waybills", filters: { state: "in_transit", org: 2, vehicle: 7, q: "齐鲁 石化&x", page: 3 } },
      { view: "waybills", filters: { state: "", org: null, vehicle: null, q: "", page: 1 } },
      { view: "waybill-new" }, { view: "waybill", id: 42 }, { view: "replay", id: 42 },
      { view: "registry", tab: "people" }, { view: "reports", month: "2026-06", org: 3 },
      { view: "reports", month: null, org: null },
    ];
    for (const r of routes) expect(parseHash(formatRoute(r))).toEqual(r);
  });

  it("reads anything unknown as the live map or the dashboard, and rejects bad values", () => {
    expect(parseHash("")).toEqual({ view: "live" });
    expect(parseHash("#/somewhere")).toEqual({ view: "live" });
    expect(parseHash("#/hazmat")).toEqual({ view: "dashboard" });
    expect(parseHash("#/hazmat/nothing")).toEqual({ view: "dashboard" });
    expect(parseHash("#/hazmat/registry/bogus")).toEqual({ view: "registry", tab: "enterprises" });
    expect(parseHash("#/hazmat/reports?month=2026-13&org=-1")).toEqual({ view: "reports", month: null, org: null });
    expect(parseHash("#/hazmat/waybills?page=0&org=x")).toEqual({ view: "waybills",
      filters: { state: "", org: null, vehicle: null, q: "", page: 1 } });
    expect(parseHash("#/hazmat/waybills/99999999999")).toMatchObject({ view: "waybills" });
    expect(tabOf("replay")).toBe("waybills");
    expect(tabOf("waybill-new")).toBe("waybills");
  });
});

describe("corridor", () => {
  // An east–west route at Zibo's latitude: 0.01° of longitude is ~893 m there.
  const route: LonLat[] = [[118.0, 36.8], [118.02, 36.8]];

  it("measures the distance to the route's polyline in metres", () => {
    expect(distanceToRouteM(route, [118.01, 36.8])).toBeLessThan(0.01);
    expect(distanceToRouteM(route, [118.01, 36.801])).toBeCloseTo(110.6, 0);
    expect(distanceToRouteM(route, [118.03, 36.8])).toBeCloseTo(893, -1);  // past the end: to the end point
    expect(distanceToRouteM([], [118, 36])).toBe(Infinity);
  });

  it("flags the points farther than half the corridor's width", () => {
    const pts: LonLat[] = [[118.005, 36.8], [118.01, 36.8022], [118.01, 36.8024], [118.015, 36.7999], [118.04, 36.8]];
    // 500 m wide: 250 m each side; 0.0022° of latitude is ~243 m, 0.0024° ~265 m.
    expect(outsideIndices(route, 500, pts)).toEqual([2, 4]);
    expect(outsideIndices(route, 5000, pts)).toEqual([]);
    expect(outsideIndices([[118, 36.8]], 500, pts)).toEqual([]);
  });

  it("groups consecutive indexes into runs and measures routes", () => {
    expect(runs([1, 2, 3, 7, 9, 10])).toEqual([[1, 3], [7, 7], [9, 10]]);
    expect(runs([])).toEqual([]);
    expect(routeLengthKm(route)).toBeCloseTo(1.781, 2);
  });

  it("imports a route from GeoJSON in its usual forms", () => {
    const line = { type: "LineString", coordinates: [[118.0, 36.8], [118.0, 36.8], [118.1, 36.81]] };
    expect(routeFromGeoJSON(JSON.stringify(line))).toEqual({ ok: true, points: [[118.0, 36.8], [118.1, 36.81]] });
    const fc = { type: "FeatureCollection", features: [{ type: "Feature", geometry: { type: "Point", coordinates: [1, 2] } },
      { type: "Feature", properties: {}, geometry: line }] };
    expect(routeFromGeoJSON(JSON.stringify(fc))).toMatchObject({ ok: true });
    expect(routeFromGeoJSON("{")).toEqual({ ok: false, error: "json" });
    expect(routeFromGeoJSON(JSON.stringify({ type: "Point", coordinates: [1, 2] }))).toEqual({ ok: false, error: "noLine" });
    expect(routeFromGeoJSON(JSON.stringify({ type: "LineString", coordinates: [[200, 1], [1, 2]] })))
      .toEqual({ ok: false, error: "coords" });
    expect(routeFromGeoJSON(JSON.stringify({ type: "LineString", coordinates: [[1, 2], [1, 2]] })))
      .toEqual({ ok: false, error: "short" });
  });
});

describe("dates", () => {
  it("judges documents by the Beijing calendar day", () => {
    // 2026-05-31T16:30Z is already 1 June in Beijing.
    expect(beijingDay(Date.parse("2026-05-31T16:30:00Z"))).toBe("2026-06-01");
    expect(daysLeft("2026-06-01", "2026-06-01")).toBe(0);
    expect(validity("2026-05-31", "2026-06-01")).toBe("expired");
    expect(validity("2026-06-01", "2026-06-01")).toBe("expiring");
    expect(validity("2026-07-01", "2026-06-01")).toBe("expiring");
    expect(validity("2026-07-02", "2026-06-01")).toBe("valid");
  });

  it("gives a month's range, capped at today for the running month", () => {
    expect(monthRange("2024-02")).toEqual({ start: "2024-02-01", end: "2024-02-29" });
    expect(monthRange("2026-06", "2026-06-12")).toEqual({ start: "2026-06-01", end: "2026-06-12" });
    expect(monthRange("2026-05", "2026-06-12")).toEqual({ start: "2026-05-01", end: "2026-05-31" });
    expect(shiftMonth("2026-01", -1)).toBe("2025-12");
    expect(shiftMonth("2026-12", 1)).toBe("2027-01");
    expect(pct(0.9234)).toBe("92.3%");
    expect(pct(null)).toBe("—");
  });
});

function draft(over: Partial<WaybillDraft> = {}): WaybillDraft {
  return {
    org: 2, number: "", shipper: " 齐鲁石化 ", consignee: "张店加油站", vehicle: 5, driver: 1, escort: 2,
    cargo: [{ un: "UN1203", name: "", cls: "3", pg: "II", qty: "20", unit: "t" }],
    origin: { name: "装车站", address: "", area: { kind: "circle", center: [118.3, 36.8], radius_m: 299.6 } },
    destination: { name: "加油站", address: "", area: { kind: "polygon", points: [[118, 36.8], [118.01, 36.8], [118, 36.81]] } },
    depFrom: "2026-06-01T12:00", depUntil: "2026-06-01T13:00", arrFrom: "2026-06-01T15:00", arrUntil: "2026-06-01T18:00",
    route: [[118.3, 36.8], [118.123456789, 36.81]], corridor: 500, ...over,
  };
}

describe("waybill form", () => {
  it("builds the API's request body", () => {
    const got = buildWaybill(draft());
    expect(got.ok).toBe(true);
    if (!got.ok) return;
    expect(got.body).toMatchObject({ org_id: 2, shipper: "齐鲁石化", vehicle_id: 5, driver_id: 1, escort_id: 2,
      departure_from: "2026-06-01T12:00:00+08:00", arrival_until: "2026-06-01T18:00:00+08:00", corridor_m: 500,
      route: [[118.3, 36.8], [118.123457, 36.81]] });
    expect(got.body.cargo).toEqual([{ un_number: "1203", name: "", hazard_class: "3", packing_group: "II", quantity: 20,
      unit: "t" }]);
    expect((got.body.origin as { area: unknown }).area).toEqual({ kind: "circle", center: [118.3, 36.8], radius_m: 300 });
    expect("number" in got.body).toBe(false);
    expect(buildWaybill(draft({ number: "ZB-1" }))).toMatchObject({ ok: true, body: { number: "ZB-1" } });
  });

  it("lists what is missing, in the form's order", () => {
    const got = buildWaybill(draft({ vehicle: null, route: [[1, 2]], cargo: [{ un: "12", name: "", cls: "3", pg: "",
      qty: "0", unit: "t" }], destination: { name: "", address: "", area: null }, depFrom: "" }));
    expect(got).toEqual({ ok: false, missing: ["wf.missing.vehicle", "wf.missing.cargo", "wf.missing.destination",
      "wf.missing.windows", "wf.missing.route"] });
    expect(unDigits("un 1203")).toBe("1203");
    expect(unDigits("120")).toBeNull();
  });

  it("points each refusal at its part of the form and reads every reason of a 422", () => {
    expect(sectionOf("escort_expired")).toBe("escort");
    expect(sectionOf("driver_class")).toBe("driver");
    expect(sectionOf("terminal_offline")).toBe("vehicle");
    expect(sectionOf("licence_scope")).toBe("carrier");
    expect(sectionOf("class_mismatch")).toBe("cargo");
    expect(sectionOf("window")).toBe("windows");
    expect(sectionOf("something_new")).toBeNull();
    const refused = { detail: "…", reasons: [{ code: "escort_expired", message: "a" }, { code: "vehicle_class", message: "b" }] };
    expect(reasonsOf(refused)).toEqual(refused.reasons);
    expect(reasonsOf({ detail: [{ loc: ["body", "cargo", 0, "quantity"], msg: "must be > 0" }] }))
      .toEqual([{ code: "invalid", message: "cargo.0.quantity: must be > 0" }]);
    expect(reasonsOf({ detail: "no" })).toEqual([{ code: "error", message: "no" }]);
    expect(reasonsOf(null)).toEqual([]);
  });
});

describe("hazmat pages", () => {
  it("replays the planned windows up to now when there is no trip endpoint", () => {
    const w = { departure_from: "2026-06-01T04:00:00Z", arrival_until: "2026-06-01T10:00:00Z" } as Waybill;
    expect(plannedWindow(w, Date.parse("2026-06-01T06:00:00Z"))).toEqual({ start: w.departure_from,
      end: "2026-06-01T06:00:00.000Z" });
    expect(plannedWindow(w, Date.parse("2026-06-02T00:00:00Z")).end).toBe("2026-06-01T10:00:00.000Z");
  });

  it("finds the days and figures of a daily report", () => {
    const got = dailyRows({ org_id: 2, items: [{ day: "2026-06-01", mileage_km: 12.5, alarms: 3, org_id: 2, note: "x" },
      { day: "2026-06-02", mileage_km: 8, alarms: 0 }] });
    expect(got.dayKey).toBe("day");
    expect(got.metrics).toEqual(["mileage_km", "alarms"]);
    expect(got.rows).toHaveLength(2);
    expect(dailyRows([{ date: "2026-06-01", online_rate: 0.5 }]).dayKey).toBe("date");
    expect(dailyRows(null).rows).toEqual([]);
  });

  it("scales chart axes to 1, 2 or 5 × 10ⁿ", () => {
    expect(niceMax(0)).toBe(1);
    expect(niceMax(7)).toBe(10);
    expect(niceMax(13)).toBe(20);
    expect(niceMax(0.3)).toBe(0.5);
    expect(niceMax(100)).toBe(100);
  });

  it("names states, classes and finding types in both languages", () => {
    expect(stateName("in_transit")).toBe("运输中");
    expect(className("2.1")).toBe("2.1 易燃气体");
    expect(className("1.1D")).toBe("1.1D 爆炸品");
    expect(findingTypeName("hazmat.route_deviation")).toBe("偏离审批路线");
    expect(findingTypeName("overspeed")).toBe("超速");
    setLang("en");
    expect(stateName("in_transit")).toBe("In transit");
    expect(className("8")).toBe("8 Corrosives");
    expect(hx("wf.refused", { n: 3 })).toBe("The waybill cannot be issued, 3 reasons:");
    setLang("zh");
  });

  it("has every string in both languages with the same placeholders", () => {
    expect(Object.keys(HX_DICTS.en).sort()).toEqual(Object.keys(HX_DICTS.zh).sort());
    const names = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort();
    for (const [k, zh] of Object.entries(HX_DICTS.zh)) {
      const en = (HX_DICTS.en as Record<string, string>)[k];
      expect(en.trim(), k).not.toBe("");
      expect(names(en), k).toEqual(names(zh));
    }
  });
});
