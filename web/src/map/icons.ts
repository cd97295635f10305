// Vehicle icons drawn once on a canvas: a body shape per vehicle type, filled with
// the state's colour, with a white arrow at the front. The map rotates them by
// heading (0 = north, clockwise), so the shapes point up.

import type { Map as MapLibreMap } from "maplibre-gl";
import { STATE_COLOURS, STATES, VEHICLE_TYPES, type VehicleState } from "../vehicle-state";

type Pt = [number, number];

/** Outlines in a [-1, 1] box, front at the top. */
const SHAPES: Record<string, Pt[] | "circle" | "small-circle"> = {
  hazmat_tanker: [[0, -1], [0.82, 0], [0, 1], [-0.82, 0]],
  hazmat_van: [[0, -1], [0.82, 0], [0, 1], [-0.82, 0]],
  coach: [[0, -1], [0.56, -0.5], [0.56, 0.96], [-0.56, 0.96], [-0.56, -0.5]],
  bus: [[-0.56, -0.96], [0.56, -0.96], [0.56, 0.96], [-0.56, 0.96]],
  sanitation: [[0, -1], [0.87, -0.5], [0.87, 0.5], [0, 1], [-0.87, 0.5], [-0.87, -0.5]],
  school_bus: [[0, -1], [0.9, 0.86], [-0.9, 0.86]],
  muck_truck: [[-0.8, -0.8], [0.8, -0.8], [0.8, 0.8], [-0.8, 0.8]],
  taxi: "circle",
  other: "small-circle",
};

export const ICON_PX = 30;
const RATIO = 2;

export function iconName(type: string, state: VehicleState): string {
  return `veh-${type}-${state}`;
}

function drawIcon(type: string, colour: string): ImageData {
  const size = ICON_PX * RATIO;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const ctx = canvas.getContext("2d")!;
  const r = size / 2 - 3 * RATIO;
  ctx.translate(size / 2, size / 2);
  const shape = SHAPES[type] ?? SHAPES.other;
  ctx.beginPath();
  if (shape === "circle" || shape === "small-circle") {
    ctx.arc(0, 0, r * (shape === "circle" ? 0.8 : 0.66), 0, Math.PI * 2);
  } else {
    shape.forEach(([x, y], i) => (i ? ctx.lineTo(x * r, y * r) : ctx.moveTo(x * r, y * r)));
    ctx.closePath();
  }
  ctx.shadowColor = "rgba(0,0,0,0.35)";
  ctx.shadowBlur = 2 * RATIO;
  ctx.fillStyle = colour;
  ctx.fill();
  ctx.shadowBlur = 0;
  ctx.lineWidth = 1.6 * RATIO;
  ctx.strokeStyle = "#ffffff";
  ctx.stroke();
  // The heading arrow.
  ctx.beginPath();
  ctx.moveTo(0, -0.62 * r);
  ctx.lineTo(0.3 * r, -0.06 * r);
  ctx.lineTo(0, -0.2 * r);
  ctx.lineTo(-0.3 * r, -0.06 * r);
  ctx.closePath();
  ctx.fillStyle = "#ffffff";
  ctx.fill();
  if (type === "hazmat_van") {
    ctx.fillRect(-0.16 * r, 0.18 * r, 0.32 * r, 0.32 * r);
  }
  return ctx.getImageData(0, 0, size, size);
}

/** Register every type × state icon with the map. */
export function addVehicleIcons(map: MapLibreMap): void {
  for (const type of VEHICLE_TYPES) {
    for (const state of STATES) {
      const name = iconName(type, state);
      if (!map.hasImage(name)) map.addImage(name, drawIcon(type, STATE_COLOURS[state]), { pixelRatio: RATIO });
    }
  }
}

const urls = new Map<string, string>();

/** An icon as a picture for the list, the legend and the map's HTML marks (a data: URL,
 * no request; drawn once per type and state). */
export function iconDataUrl(type: string, state: VehicleState): string {
  const name = iconName(type, state);
  const known = urls.get(name);
  if (known) return known;
  const img = drawIcon(type, STATE_COLOURS[state]);
  const canvas = document.createElement("canvas");
  canvas.width = img.width;
  canvas.height = img.height;
  canvas.getContext("2d")!.putImageData(img, 0, 0);
  const url = canvas.toDataURL();
  urls.set(name, url);
  return url;
}
