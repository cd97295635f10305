// A modal dialog over the console: a titled card, closed by its buttons or Escape.

import { h } from "../ui/dom";

export interface Modal {
  root: HTMLElement;
  body: HTMLElement;
  foot: HTMLElement;
  close(): void;
}

export function openModal(id: string, title: string, onClose: () => void = () => {}): Modal {
  document.getElementById(id)?.remove();
  const body = h("div", { class: "ax-modal-body" });
  const foot = h("div", { class: "ax-modal-foot" });
  const card = h("div", { class: "ax-modal", role: "dialog", "aria-modal": "true", id },
    h("div", { class: "ax-modal-head" }, h("h3", {}, title),
      h("button", { type: "button", class: "icon", "aria-label": "×", onclick: () => close() }, "×")),
    body, foot);
  const root = h("div", { class: "ax-backdrop" }, card);
  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") close();
  };
  function close(): void {
    root.remove();
    document.removeEventListener("keydown", onKey);
    onClose();
  }
  document.addEventListener("keydown", onKey);
  document.body.append(root);
  return { root: card, body, foot, close };
}

export function labelled(label: string, control: HTMLElement): HTMLElement {
  return h("label", { class: "ax-field" }, h("span", {}, label), control);
}
