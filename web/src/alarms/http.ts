// PUT/DELETE and POST for the alarm console's writes, with the session's token.
// (api.ts has GET and POST returning JSON; DELETE answers 204 without a body.)

import { API_PREFIX, ApiError, type Api } from "../api";

export async function send<T>(api: Api, method: "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  const token = api.getToken();
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const resp = await fetch(API_PREFIX + path, { method, headers, body: body === undefined ? undefined
    : JSON.stringify(body) });
  if (!resp.ok) {
    let detail = resp.statusText;
    try {
      const j = (await resp.json()) as { detail?: unknown };
      detail = typeof j.detail === "string" ? j.detail : JSON.stringify(j.detail ?? detail);
    } catch {
      /* not JSON: keep the status text */
    }
    throw new ApiError(resp.status, detail);
  }
  return (resp.status === 204 ? undefined : await resp.json()) as T;
}

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.detail;
  return e instanceof Error ? e.message : String(e);
}
