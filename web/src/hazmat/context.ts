// What every hazmat view gets: the API, the user, the organisations, the shared map,
// navigation, the registry's names (plates, people) and the small helpers for
// errors and permissions.

import { ApiError, type Api } from "../api";
import type { Display } from "../geo/display";
import type { ConsoleConfig, Me, Organisation } from "../types";
import { h } from "../ui/dom";
import type { HazmatMap } from "./hz-map";
import type { Route } from "./router";
import { hx } from "./text";
import type { Enterprise, HazmatVehicle, PeoplePage, Person } from "./types";

export interface HazmatContext {
  api: Api;
  me: Me;
  orgs: Organisation[];
  cfg: ConsoleConfig;
  display: Display;
  orgName(id: number | null): string;
  go(route: Route): void;
  /** The hazmat pages' map (one, created on first use), placed into ``slot``. */
  map(slot: HTMLElement): Promise<HazmatMap>;
  registry: Registry;
}

/** A view on screen; leave() undoes what it put on the shared map. */
export interface HazmatView {
  el: HTMLElement;
  leave(): void;
}

/** May ``me`` change records of organisation ``orgId`` (the API's write scope)? */
export function canWrite(me: Me, orgId: number | null): boolean {
  return me.role === "admin" || (me.role === "operator" && orgId != null && me.org_id === orgId);
}

/** The endpoint is not there (yet) or the service is down: a 404 from the router itself, or a 503. */
export function unavailable(e: unknown): boolean {
  return e instanceof ApiError && ((e.status === 404 && e.detail === "Not Found") || e.status === 503);
}

export function errorDetail(e: unknown): string {
  if (e instanceof ApiError) return `${e.status} ${e.detail}`;
  return e instanceof Error ? e.message : String(e);
}

/** A message box for a failed load: "not available yet" for a missing endpoint, the error otherwise. */
export function failure(e: unknown, id?: string): HTMLElement {
  const missing = unavailable(e);
  return h("div", { class: `hz-notice ${missing ? "hz-notice-info" : "hz-notice-error"}`, id: id ?? null,
    "data-unavailable": missing ? "true" : "false", role: "status" },
  missing ? hx("hz.unavailable", { detail: errorDetail(e) }) : hx("hz.error", { detail: errorDetail(e) }));
}

/** The hazmat registry's names, loaded once and again after an edit. */
export class Registry {
  vehicles: HazmatVehicle[] = [];
  people: Person[] = [];
  enterprises: Enterprise[] = [];
  private loading: Promise<void> | null = null;

  constructor(private readonly api: Api) {}

  load(force = false): Promise<void> {
    if (!this.loading || force) {
      this.loading = Promise.all([
        this.api.get<HazmatVehicle[]>("/hazmat/vehicles"),
        this.api.get<PeoplePage>("/hazmat/people", { limit: 1000 }),
        this.api.get<Enterprise[]>("/hazmat/enterprises"),
      ]).then(([v, p, e]) => {
        this.vehicles = v.sort((a, b) => a.plate.localeCompare(b.plate));
        this.people = p.items;
        this.enterprises = e;
      }).catch((err: unknown) => {
        this.loading = null;
        throw err;
      });
    }
    return this.loading;
  }

  plate(id: number): string {
    return this.vehicles.find((v) => v.vehicle_id === id)?.plate ?? `#${id}`;
  }

  person(id: number | null): Person | undefined {
    return id == null ? undefined : this.people.find((p) => p.id === id);
  }

  personName(id: number | null): string {
    if (id == null) return "—";
    return this.person(id)?.name ?? `#${id}`;
  }
}
