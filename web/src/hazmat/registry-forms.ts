// The rows of qualification certificates in a person's edit dialog: role, number,
// classes, expiry; rows added and removed in place.

import { h } from "../ui/dom";
import { hx, tx2 } from "./text";
import type { PersonRole, Qualification } from "./types";

export interface QualRow {
  kind: PersonRole;
  number: string;
  classes: string;
  expiry: string;
}

export function editRows(initial: Qualification[]): { el: HTMLElement; values(): QualRow[] } {
  const box = h("div", { class: "hz-qual-rows", id: "rg-p-quals" });
  const row = (q: Qualification) => {
    const kind = h("select", { class: "rg-q-kind", "aria-label": hx("rg.p.kind") }, ...(["driver", "escort"] as const)
      .map((k) => h("option", { value: k, selected: q.kind === k }, tx2("role", k))));
    const r = h("div", { class: "hz-qual-row" }, kind,
      h("input", { class: "rg-q-number", placeholder: hx("rg.p.number"), value: q.number, maxlength: 64 }),
      h("input", { class: "rg-q-classes", placeholder: hx("rg.classesHint"), value: q.classes.join(", ") }),
      h("input", { class: "rg-q-expiry", type: "date", value: q.expiry }),
      h("button", { type: "button", class: "link", title: hx("wf.remove"), onclick: () => r.remove() }, "×"));
    return r;
  };
  box.append(...initial.map(row));
  const add = h("button", { type: "button", id: "rg-q-add", onclick: () => box.append(row({ kind: "escort", number: "",
    classes: [], expiry: "" })) }, hx("rg.addQual"));
  return {
    el: h("div", {}, box, add),
    values: () => [...box.querySelectorAll<HTMLElement>(".hz-qual-row")].map((r) => ({
      kind: r.querySelector<HTMLSelectElement>(".rg-q-kind")!.value as PersonRole,
      number: r.querySelector<HTMLInputElement>(".rg-q-number")!.value,
      classes: r.querySelector<HTMLInputElement>(".rg-q-classes")!.value,
      expiry: r.querySelector<HTMLInputElement>(".rg-q-expiry")!.value,
    })),
  };
}
