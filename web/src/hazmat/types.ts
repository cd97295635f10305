// Shapes of the hazmat API's JSON (docs/hazmat.md; the OpenAPI at /docs).

export type LonLat = [number, number];
export type Unit = "kg" | "t" | "L" | "m3" | "pieces";
export type PackingGroup = "I" | "II" | "III";
export type PersonRole = "driver" | "escort";

export const TRIP_STATES = ["planned", "loading", "in_transit", "unloading", "completed", "cancelled"] as const;
export type TripState = (typeof TRIP_STATES)[number];

export interface CargoLine {
  un_number: string;
  name: string;
  hazard_class: string;
  packing_group: PackingGroup | null;
  quantity: number;
  unit: Unit;
}

/** A site's area in the engine's JSON form. */
export type Area =
  | { kind: "circle"; center: LonLat; radius_m: number }
  | { kind: "rectangle"; points: [LonLat, LonLat] }
  | { kind: "polygon"; points: LonLat[] };

export interface SiteIO {
  name: string;
  address: string;
  area: Area;
}

export interface Waybill {
  id: number;
  org_id: number;
  number: string;
  state: string;
  shipper: string;
  consignee: string;
  vehicle_id: number;
  driver_id: number;
  escort_id: number | null;
  cargo: CargoLine[];
  origin: SiteIO;
  destination: SiteIO;
  departure_from: string;
  departure_until: string;
  arrival_from: string;
  arrival_until: string;
  route: LonLat[];
  corridor_m: number;
  warnings: string[];
  created_at: string | null;
  created_by: string;
  cancelled_at: string | null;
  cancel_reason: string;
  cancelled_by: string;
}

export interface WaybillPage {
  total: number;
  limit: number;
  offset: number;
  items: Waybill[];
}

export interface Reason {
  code: string;
  message: string;
}

export interface Enterprise {
  org_id: number;
  name: string;
  business_licence_no: string;
  operation_licence_no: string;
  classes: string[];
  valid_from: string | null;
  valid_until: string;
  updated_at: string | null;
}

export interface HazmatVehicle {
  vehicle_id: number;
  org_id: number | null;
  plate: string;
  device_id: string | null;
  online: boolean;
  body: "tank" | "van";
  classes: string[];
  certificate_no: string;
  certificate_expiry: string;
  updated_at: string | null;
}

export interface Qualification {
  kind: PersonRole;
  number: string;
  classes: string[];
  expiry: string;
}

export interface Person {
  id: number;
  org_id: number;
  name: string;
  phone: string;
  qualifications: Qualification[];
  updated_at: string | null;
}

export interface PeoplePage {
  total: number;
  limit: number;
  offset: number;
  items: Person[];
}

/** An expired or expiring document (GET /hazmat/findings). */
export interface DocFinding {
  status: "expired" | "expiring";
  document: "operation_licence" | "transport_certificate" | "qualification";
  number: string;
  expiry: string;
  days_left: number;
  org_id: number | null;
  subject: "enterprise" | "vehicle" | "person";
  subject_id: number;
  subject_name: string;
  detail: string;
  message: string;
}

export interface UnEntry {
  un_number: string;
  hazard_class: string;
  subsidiary_hazards: string[];
  packing_groups: string[];
  name_en: string;
  name_zh: string;
}

export interface TripChange {
  state: string;
  at: string;
  by: string;
}

/** Something the trip's monitoring found (an alarm of the waybill's vehicle in the trip). */
export interface TripFinding {
  id: number | null;
  alarm_type: string;
  severity: number;
  state: "open" | "acknowledged" | "handled";
  start_time: string;
  end_time: string | null;
  lat: number | null;
  lon: number | null;
  title: string;
}

export interface Checkin {
  id: number;
  person_id: number;
  role: PersonRole;
  at: string;
  by: string;
}

export interface Trip {
  waybill: Waybill;
  history: TripChange[];
  window: { start: string; end: string };
  findings: TripFinding[];
  /** Manual check-ins of the driver and escort (absent from older servers). */
  checkins?: Checkin[];
}

export interface Dashboard {
  vehicles: { total: number; online: number; moving: number; by_class: Record<string, number>;
    /** Online vehicles on a trip now, by their cargo's classes (absent from older servers). */
    carrying?: Record<string, number> };
  trips: { planned: number; loading: number; in_transit: number; unloading: number; completed_today: number };
  open_findings: number;
  alarms_today: { total: number; by_type: Record<string, number> };
  documents: { expired: number; expiring: number };
}

export interface EnterpriseScore {
  org_id: number;
  name: string;
  vehicles: number;
  networked: number;
  network_rate: number | null;
  online_rate: number | null;
  track_completeness: number | null;
  data_qualification: number | null;
  overspeed_per_100: number | null;
  fatigue_per_100: number | null;
  alarm_handling_rate: number | null;
  mileage_km: number | null;
  running_h: number | null;
  score: number | null;
  rank: number | null;
}

export interface EnterpriseReport {
  start: string;
  end: string;
  items: EnterpriseScore[];
}
