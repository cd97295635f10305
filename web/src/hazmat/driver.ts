// A driver's or escort's own account (read-only self): their waybills and each
// trip's progress and findings. The API gives such an account nothing else, so this
// page replaces the whole console (no map of the fleet, no live feeds).

import type { Api } from "../api";
import { fmtTime } from "../format";
import { getLang } from "../i18n";
import type { Me } from "../types";
import { h } from "../ui/dom";
import { findingTypeName, stateName } from "./text";
import type { Trip, Waybill, WaybillPage } from "./types";

const TEXT = {
  zh: { title: "我的电子运单", none: "暂无运单", logout: "退出", trip: "行程", findings: "运输异常",
        noFindings: "无", role: "驾驶员/押运员", loading: "加载中…" },
  en: { title: "My e-waybills", none: "No waybills", logout: "Log out", trip: "Trip", findings: "Findings",
        noFindings: "None", role: "Driver/escort", loading: "Loading…" },
} as const;

function text(): (typeof TEXT)["zh"] | (typeof TEXT)["en"] {
  return TEXT[getLang() === "zh" ? "zh" : "en"];
}

function cargo(w: Waybill): string {
  return w.cargo.map((c) => `UN${c.un_number} ${c.name} (${c.hazard_class}) ${c.quantity} ${c.unit}`).join("; ");
}

async function tripOf(api: Api, w: Waybill, into: HTMLElement): Promise<void> {
  const tx = text();
  into.replaceChildren(tx.loading);
  const trip = await api.get<Trip>(`/hazmat/me/waybills/${w.id}/trip`);
  into.replaceChildren(
    h("ol", { class: "driver-history" },
      ...trip.history.map((c) => h("li", {}, `${stateName(c.state)} · ${fmtTime(c.at)}`))),
    h("h4", {}, tx.findings),
    trip.findings.length
      ? h("ul", { class: "driver-findings" },
          ...trip.findings.map((f) => h("li", {}, `${findingTypeName(f.alarm_type)} · ${fmtTime(f.start_time)}`)))
      : h("p", {}, tx.noFindings),
  );
  into.dataset.ready = "true";
}

/** Show the driver's page in place of the console; ``logout`` ends the session. */
export async function startDriver(api: Api, me: Me, logout: () => void): Promise<void> {
  const tx = text();
  document.getElementById("login-view")?.setAttribute("hidden", "");
  document.getElementById("app-view")?.setAttribute("hidden", "");
  document.getElementById("driver-view")?.remove();
  const list = h("div", { class: "driver-list" }, tx.loading);
  const view = h("div", { id: "driver-view", class: "driver-view" },
    h("header", { class: "driver-top" }, h("b", {}, tx.title), h("span", {}, `${me.username} · ${tx.role}`),
      h("button", { type: "button", id: "driver-logout", onclick: () => { view.remove(); logout(); } }, tx.logout)),
    list);
  document.body.append(view);
  const page = await api.get<WaybillPage>("/hazmat/me/waybills", { limit: 50 });
  list.replaceChildren(...(page.items.length ? page.items.map((w) => {
    const trip = h("div", { class: "driver-trip" });
    return h("section", { class: "driver-waybill", "data-waybill": w.id },
      h("h3", {}, `${w.number} · ${stateName(w.state)}`),
      h("p", {}, `${w.origin.name} → ${w.destination.name}`),
      h("p", {}, cargo(w)),
      h("p", {}, `${fmtTime(w.departure_from)} – ${fmtTime(w.arrival_until)}`),
      h("button", { type: "button", onclick: () => void tripOf(api, w, trip) }, tx.trip),
      trip);
  }) : [h("p", {}, tx.none)]));
  list.dataset.ready = "true";
}
