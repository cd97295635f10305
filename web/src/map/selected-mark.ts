// The selected vehicle, marked over the map: a yellow ring, its icon rotated by
// heading, its plate. An HTML element (a MapLibre marker) above the city view's cells,
// which are elements too: a map layer would be drawn under them, and a vehicle
// selected in the list would be hidden under its cell's disc.

import { Marker, type Map as MapLibreMap } from "maplibre-gl";
import type { VehicleState } from "../vehicle-state";
import { iconDataUrl } from "./icons";

export interface Selected {
  lon: number;
  lat: number;
  type: string;
  state: VehicleState;
  heading_deg: number;
  plate: string;
}

export class SelectedMark {
  private marker: Marker | null = null;
  private readonly el: HTMLElement;
  private readonly icon: HTMLElement;
  private readonly plate: HTMLElement;
  private visible = true;

  constructor(private readonly map: MapLibreMap) {
    this.el = document.createElement("div");
    this.el.className = "veh-selected";
    this.icon = document.createElement("div");
    this.icon.className = "veh-selected-icon";
    this.plate = document.createElement("span");
    this.plate.className = "veh-selected-plate";
    this.el.append(this.icon, this.plate);
  }

  /** Mark ``v`` (null: nothing selected, or it has no position). */
  show(v: Selected | null): void {
    if (!v) {
      this.marker?.remove();
      this.marker = null;
      return;
    }
    this.icon.style.backgroundImage = `url(${iconDataUrl(v.type, v.state)})`;
    // The icon turns with the map's bearing and the heading; the plate stays upright.
    this.icon.style.transform = `rotate(${v.heading_deg - this.map.getBearing()}deg)`;
    this.plate.textContent = v.plate;
    this.el.dataset.state = v.state;
    this.el.style.visibility = this.visible ? "" : "hidden";
    if (this.marker) this.marker.setLngLat([v.lon, v.lat]);
    else this.marker = new Marker({ element: this.el, anchor: "center" }).setLngLat([v.lon, v.lat]).addTo(this.map);
  }

  setVisible(visible: boolean): void {
    this.visible = visible;
    this.el.style.visibility = visible ? "" : "hidden";
  }

  /** Where the mark is (display coordinates), if shown. */
  at(): [number, number] | null {
    const p = this.marker?.getLngLat();
    return p ? [p.lng, p.lat] : null;
  }
}
