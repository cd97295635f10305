// The hazmat registry's pages: enterprises (licences and scope), hazmat vehicles
// (body, permitted classes, transport certificate), drivers and escorts with their
// qualifications, and the documents that expired or are about to. Expired dates in
// red, expiring ones in amber. The enterprise's own operators (and administrators)
// edit; everyone else reads.

import { errorText, send } from "../alarms/http";
import { labelled, openModal } from "../alarms/modal";
import { fmtTime } from "../format";
import type { VehiclePage } from "../types";
import { h } from "../ui/dom";
import { canWrite, failure, type HazmatContext, type HazmatView } from "./context";
import { beijingDay, daysLeft, validity } from "./dates";
import { REGISTRY_TABS, type RegistryTab } from "./router";
import { editRows, type QualRow } from "./registry-forms";
import { className, hx, tx2 } from "./text";
import type { DocFinding, Enterprise, HazmatVehicle, PeoplePage, Person } from "./types";

const today = () => beijingDay(Date.now());

export function parseClasses(s: string): string[] {
  return s.split(/[,，;；\s]+/).map((x) => x.trim()).filter(Boolean);
}

function dateCell(expiry: string | null, key: string): HTMLElement {
  if (!expiry) return h("td", {}, "—");
  const v = validity(expiry, today());
  const left = daysLeft(expiry, today());
  return h("td", { class: `hz-date hz-${v}`, "data-validity": v, "data-col": key,
    title: v === "valid" ? "" : left < 0 ? hx("doc.ago", { n: -left }) : left === 0 ? hx("doc.today") : hx("doc.left", { n: left }) },
  expiry, v === "valid" ? null : h("span", { class: `hz-pill hz-${v}` }, tx2("doc", v)));
}

function classChips(classes: string[]): HTMLElement {
  return h("span", { class: "hz-classes" }, ...classes.map((c) => h("i", { class: `hz-class hz-class-${c.split(".")[0]}`,
    title: className(c) }, c)));
}

function table(head: string[], rows: HTMLElement[], id: string): HTMLElement {
  if (!rows.length) return h("p", { class: "muted hz-empty", id: `${id}-empty` }, hx("hz.empty"));
  return h("table", { class: "hz-table", id }, h("thead", {}, h("tr", {}, ...head.map((x) => h("th", {}, x)))),
    h("tbody", {}, ...rows));
}

/** A modal form: fields, then Save runs ``save`` and closes, or shows what went wrong. */
export function dialog(id: string, title: string, body: HTMLElement[], save: () => Promise<void>): void {
  const err = h("p", { class: "error", id: `${id}-error` });
  const m = openModal(id, title);
  m.body.append(...body, err);
  const ok = h("button", { type: "button", class: "primary", id: `${id}-save` }, hx("hz.save"));
  ok.addEventListener("click", async () => {
    ok.disabled = true;
    try {
      await save();
      m.close();
    } catch (e) {
      err.textContent = errorText(e);
    } finally {
      ok.disabled = false;
    }
  });
  m.foot.append(h("button", { type: "button", onclick: () => m.close() }, hx("hz.cancel")), ok);
}

export function registryView(ctx: HazmatContext, tab: RegistryTab): HazmatView {
  const body = h("div", { class: "hz-list-body", id: "rg-body" }, h("p", { class: "muted" }, hx("hz.loading")));
  const tools = h("div", { class: "hz-toolbar", id: "rg-tools" });
  const el = h("div", { class: "hz-page", id: "hz-registry", "data-tab": tab },
    h("div", { class: "hz-page-head" }, h("h2", {}, hx("rg.title")),
      h("nav", { class: "hz-subtabs" }, ...REGISTRY_TABS.map((t) => h("a", { href: `#/hazmat/registry/${t}`,
        class: t === tab ? "active" : "", id: `rg-tab-${t}` }, hx(`rg.tab.${t}`))))),
    tools, body);
  let gone = false;
  const reload = () => void load();
  const edit = (label: string, onclick: () => void) => h("button", { type: "button", class: "link hz-edit", onclick }, label);

  function enterpriseDialog(orgId: number, e: Enterprise | undefined): void {
    const f = {
      business: h("input", { id: "rg-ent-business", maxlength: 64, value: e?.business_licence_no ?? "" }),
      licence: h("input", { id: "rg-ent-licence", maxlength: 64, value: e?.operation_licence_no ?? "" }),
      classes: h("input", { id: "rg-ent-classes", placeholder: hx("rg.classesHint"), value: e?.classes.join(", ") ?? "" }),
      from: h("input", { id: "rg-ent-from", type: "date", value: e?.valid_from ?? "" }),
      until: h("input", { id: "rg-ent-until", type: "date", value: e?.valid_until ?? "" }),
    };
    dialog("rg-ent-dialog", `${ctx.orgName(orgId)}`, [labelled(hx("rg.ent.business"), f.business),
      labelled(hx("rg.ent.licence"), f.licence), labelled(hx("rg.ent.classes"), f.classes),
      h("div", { class: "ax-row" }, labelled(hx("rg.ent.validFrom"), f.from), labelled(hx("rg.ent.validUntil"), f.until))],
    async () => {
      await send(ctx.api, "PUT", `/hazmat/enterprises/${orgId}`, { business_licence_no: f.business.value.trim(),
        operation_licence_no: f.licence.value.trim(), classes: parseClasses(f.classes.value),
        valid_from: f.from.value || null, valid_until: f.until.value });
      await ctx.registry.load(true);
      reload();
    });
  }

  function vehicleDialog(v: HazmatVehicle | null, orgId: number | null): void {
    const pick = h("select", { id: "rg-veh-pick" });
    const f = {
      body: h("select", { id: "rg-veh-body" }, ...(["tank", "van"] as const).map((b) => h("option", { value: b,
        selected: v?.body === b }, tx2("body", b)))),
      classes: h("input", { id: "rg-veh-classes", placeholder: hx("rg.classesHint"), value: v?.classes.join(", ") ?? "" }),
      cert: h("input", { id: "rg-veh-cert", maxlength: 64, value: v?.certificate_no ?? "" }),
      expiry: h("input", { id: "rg-veh-expiry", type: "date", value: v?.certificate_expiry ?? "" }),
    };
    if (!v) {
      void ctx.api.get<VehiclePage>("/vehicles", { org_id: orgId, limit: 1000 }).then((page) => {
        const known = new Set(ctx.registry.vehicles.map((x) => x.vehicle_id));
        pick.replaceChildren(...page.items.filter((x) => x.id != null && !known.has(x.id))
          .map((x) => h("option", { value: x.id! }, x.plate)));
      });
    }
    dialog("rg-veh-dialog", v ? v.plate : hx("rg.addVehicle"), [v ? null : labelled(hx("rg.chooseVehicle"), pick),
      labelled(hx("rg.veh.body"), f.body), labelled(hx("rg.veh.classes"), f.classes), labelled(hx("rg.veh.cert"), f.cert),
      labelled(hx("rg.ent.validUntil"), f.expiry)].filter((x): x is HTMLElement => x != null), async () => {
      const id = v?.vehicle_id ?? Number(pick.value);
      await send(ctx.api, "PUT", `/hazmat/vehicles/${id}`, { body: f.body.value, classes: parseClasses(f.classes.value),
        certificate_no: f.cert.value.trim(), certificate_expiry: f.expiry.value });
      await ctx.registry.load(true);
      reload();
    });
  }

  function personDialog(p: Person | null): void {
    const name = h("input", { id: "rg-p-name", maxlength: 64, value: p?.name ?? "" });
    const phone = h("input", { id: "rg-p-phone", maxlength: 32, value: p?.phone ?? "" });
    const rows = editRows(p?.qualifications ?? [{ kind: "driver", number: "", classes: [], expiry: "" }]);
    dialog("rg-p-dialog", p ? p.name : hx("rg.addPerson"), [h("div", { class: "ax-row" }, labelled(hx("rg.p.name"), name),
      labelled(hx("rg.p.phone"), phone)), h("div", { class: "ax-field" }, h("span", {}, hx("rg.p.quals")), rows.el)],
    async () => {
      const quals = rows.values().filter((q: QualRow) => q.number.trim()).map((q) => ({ kind: q.kind,
        number: q.number.trim(), classes: parseClasses(q.classes), expiry: q.expiry }));
      const payload = { name: name.value.trim(), phone: phone.value.trim(), qualifications: quals };
      if (p) await send(ctx.api, "PUT", `/hazmat/people/${p.id}`, payload);
      else await send(ctx.api, "POST", "/hazmat/people", { ...payload, org_id: ctx.me.org_id });
      await ctx.registry.load(true);
      reload();
    });
  }

  async function enterprises(): Promise<HTMLElement> {
    const list = await ctx.api.get<Enterprise[]>("/hazmat/enterprises");
    const registered = new Set(list.map((e) => e.org_id));
    const unregistered = ctx.orgs.filter((o) => o.kind === "enterprise" && !registered.has(o.id) && canWrite(ctx.me, o.id));
    const rows = [...list.map((e) => h("tr", { "data-org-id": e.org_id },
      h("td", {}, e.name), h("td", {}, e.business_licence_no || "—"), h("td", {}, e.operation_licence_no),
      h("td", {}, classChips(e.classes)), h("td", {}, e.valid_from ?? "—"), dateCell(e.valid_until, "valid_until"),
      h("td", { class: "muted" }, fmtTime(e.updated_at)),
      h("td", {}, canWrite(ctx.me, e.org_id) ? edit(hx("hz.edit"), () => enterpriseDialog(e.org_id, e)) : null))),
    ...unregistered.map((o) => h("tr", { "data-org-id": o.id, class: "hz-unregistered" }, h("td", {}, o.name),
      h("td", { colspan: 6, class: "muted" }, "—"),
      h("td", {}, edit(hx("rg.register"), () => enterpriseDialog(o.id, undefined)))))];
    return table([hx("rep.name"), hx("rg.ent.business"), hx("rg.ent.licence"), hx("rg.ent.classes"), hx("rg.ent.validFrom"),
      hx("rg.ent.validUntil"), hx("rg.updated"), ""], rows, "rg-enterprises");
  }

  async function vehicles(): Promise<HTMLElement> {
    const list = await ctx.api.get<HazmatVehicle[]>("/hazmat/vehicles");
    if (ctx.me.role !== "viewer" && ctx.me.org_id != null && canWrite(ctx.me, ctx.me.org_id)
      && ctx.orgs.find((o) => o.id === ctx.me.org_id)?.kind === "enterprise") {
      tools.append(h("button", { type: "button", class: "primary", id: "rg-add-vehicle",
        onclick: () => vehicleDialog(null, ctx.me.org_id) }, hx("rg.addVehicle")));
    }
    const rows = list.sort((a, b) => a.plate.localeCompare(b.plate)).map((v) => h("tr", { "data-vehicle-id": v.vehicle_id },
      h("td", { class: "hz-plate" }, v.plate), h("td", {}, ctx.orgName(v.org_id)), h("td", {}, tx2("body", v.body)),
      h("td", {}, classChips(v.classes)), h("td", {}, v.certificate_no), dateCell(v.certificate_expiry, "certificate_expiry"),
      h("td", {}, h("span", { class: v.online ? "hz-online" : "hz-offline" }, v.online ? hx("hz.online") : hx("hz.offline"))),
      h("td", {}, canWrite(ctx.me, v.org_id) ? edit(hx("hz.edit"), () => vehicleDialog(v, v.org_id)) : null)));
    return table([hx("rg.veh.plate"), hx("wd.carrier"), hx("rg.veh.body"), hx("rg.veh.classes"), hx("rg.veh.cert"),
      hx("rg.ent.validUntil"), hx("rg.veh.terminal"), ""], rows, "rg-vehicles");
  }

  async function people(): Promise<HTMLElement> {
    const role = h("select", { id: "rg-p-role" }, h("option", { value: "" }, hx("rg.allRoles")),
      h("option", { value: "driver" }, hx("role.driver")), h("option", { value: "escort" }, hx("role.escort")));
    const q = h("input", { id: "rg-p-q", type: "search", placeholder: hx("rg.search"), maxlength: 64 });
    const out = h("div", {});
    const fill = async () => {
      const page = await ctx.api.get<PeoplePage>("/hazmat/people", { role: role.value || null, q: q.value.trim() || null,
        limit: 500 });
      const rows = page.items.map((p) => h("tr", { "data-person-id": p.id },
        h("td", {}, h("b", {}, p.name)), h("td", {}, ctx.orgName(p.org_id)), h("td", {}, p.phone || "—"),
        h("td", {}, h("ul", { class: "hz-quals" }, ...p.qualifications.map((x) => {
          const v = validity(x.expiry, today());
          return h("li", { class: `hz-${v}`, "data-validity": v, "data-kind": x.kind },
            h("b", {}, tx2("role", x.kind)), ` ${x.number} · `, classChips(x.classes), ` · ${x.expiry} `,
            v === "valid" ? null : h("span", { class: `hz-pill hz-${v}` }, tx2("doc", v)));
        }))),
        h("td", {}, canWrite(ctx.me, p.org_id) ? edit(hx("hz.edit"), () => personDialog(p)) : null)));
      out.replaceChildren(h("p", { class: "muted" }, hx("rg.count", { n: page.total })),
        table([hx("rg.p.name"), hx("wd.carrier"), hx("rg.p.phone"), hx("rg.p.quals"), ""], rows, "rg-people"));
    };
    role.addEventListener("change", () => void fill().catch((e) => out.replaceChildren(failure(e))));
    q.addEventListener("change", () => void fill().catch((e) => out.replaceChildren(failure(e))));
    tools.append(role, q);
    const mine = ctx.orgs.find((o) => o.id === ctx.me.org_id);
    if (mine?.kind === "enterprise" && canWrite(ctx.me, mine.id)) {
      tools.append(h("button", { type: "button", class: "primary", id: "rg-add-person", onclick: () => personDialog(null) },
        hx("rg.addPerson")));
    }
    await fill();
    return out;
  }

  async function findings(): Promise<HTMLElement> {
    const within = h("input", { id: "rg-within", type: "number", min: 0, max: 3650, value: 30 });
    const out = h("div", {});
    const fill = async () => {
      const list = await ctx.api.get<DocFinding[]>("/hazmat/findings", { within_days: Number(within.value) || 0 });
      const rows = list.map((f) => h("tr", { class: `hz-${f.status}`, "data-status": f.status, "data-subject": f.subject },
        h("td", {}, h("span", { class: `hz-pill hz-${f.status}` }, tx2("doc", f.status))),
        h("td", {}, tx2("doc", f.document), f.detail ? ` (${tx2("role", f.detail)})` : ""), h("td", {}, f.number),
        h("td", {}, `${tx2("subj", f.subject)} · ${f.subject_name}`), h("td", {}, ctx.orgName(f.org_id)),
        h("td", { class: `hz-date hz-${f.status}` }, f.expiry),
        h("td", { class: "hz-num" }, f.days_left < 0 ? hx("doc.ago", { n: -f.days_left })
          : f.days_left === 0 ? hx("doc.today") : hx("doc.left", { n: f.days_left }))));
      out.replaceChildren(h("p", { class: "muted" }, hx("rg.count", { n: list.length })),
        table([hx("rg.f.status"), hx("rg.f.document"), hx("rg.f.number"), hx("rg.f.subject"), hx("wd.carrier"),
          hx("rg.f.expiry"), hx("rg.f.left")], rows, "rg-findings"));
    };
    within.addEventListener("change", () => void fill().catch((e) => out.replaceChildren(failure(e))));
    tools.append(h("label", { class: "hz-inline" }, hx("rg.within"), within));
    await fill();
    return out;
  }

  async function load(): Promise<void> {
    tools.replaceChildren();
    try {
      const content = await { enterprises, vehicles, people, findings }[tab]();
      if (gone) return;
      body.replaceChildren(content);
      if (!ctx.me.role || ctx.me.role === "viewer") tools.append(h("span", { class: "muted" }, hx("hz.readOnly")));
      el.dataset.ready = "true";
    } catch (e) {
      if (!gone) body.replaceChildren(failure(e));
    }
  }

  void load();
  return { el, leave: () => (gone = true) };
}
