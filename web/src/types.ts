// Shapes of the API's JSON (see the OpenAPI document at /docs).

export interface PositionOut {
  lat: number;
  lon: number;
  speed_kmh: number;
  heading_deg: number;
  altitude_m: number;
  device_time: string;
  alarm: number;
  status: number;
  alarm_flags: string[];
  status_flags: string[];
  mileage_km: number | null;
  extras: Record<string, unknown>;
}

export interface VehicleItem {
  id: number | null;
  plate: string;
  plate_colour: number | null;
  vehicle_type: string;
  org_id: number | null;
  device_id: string | null;
  online: boolean;
  last_report_at: string | null;
  position: PositionOut | null;
}

export interface VehiclePage {
  total: number;
  limit: number;
  offset: number;
  items: VehicleItem[];
}

export interface Organisation {
  id: number;
  name: string;
  kind: "regulator" | "enterprise";
  parent_id: number | null;
}

export type Role = "admin" | "operator" | "viewer" | "driver";

export interface Me {
  id: number;
  username: string;
  role: Role;
  org_id: number | null;
  sees_all: boolean;
  org_ids: number[] | null;
}

export interface LoginResponse {
  token: string;
  token_type: "bearer";
  role: Role;
  expires_in_s: number;
}

export interface BasemapConfig {
  kind: "none" | "osm" | "tianditu" | "custom";
  coords: "wgs84" | "gcj02";
  tiles: string[];
  overlay_tiles: Record<string, string[]>;
  attribution: string;
  max_zoom: number;
  tile_size: number;
}

export interface ConsoleConfig {
  basemap: BasemapConfig;
  center: [number, number];
  zoom: number;
  roads_url: string;
  districts_url: string;
  alarm_bits: Record<string, string>;
  status_bits: Record<string, string>;
}

export interface TrackPoint {
  device_time: string;
  received_at: string;
  lat: number;
  lon: number;
  speed_kmh: number;
  heading_deg: number;
  altitude_m: number;
  alarm: number;
  status: number;
  mileage_km: number | null;
  backfill: boolean;
}

export interface Stop {
  start: string;
  end: string;
  duration_s: number;
  lat: number;
  lon: number;
}

export interface TrackOut {
  vehicle_id: number;
  device_id: string | null;
  start: string;
  end: string;
  raw_count: number;
  count: number;
  truncated: boolean;
  points: TrackPoint[];
  stops: Stop[] | null;
}

export interface FrameOut {
  source: "log" | "bad";
  received_at: string;
  hex: string;
  msg_id: string | null;
  reason: string | null;
  offset: number | null;
}

export interface FramesOut {
  device_id: string;
  items: FrameOut[];
}
