// The REST API, same origin, with the session's Bearer token.

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${status}: ${detail}`);
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export const API_PREFIX = "/api/v1";

export class Api {
  constructor(
    private token: string | null,
    private readonly onUnauthorized: () => void = () => {},
  ) {}

  setToken(token: string | null): void {
    this.token = token;
  }

  getToken(): string | null {
    return this.token;
  }

  async get<T>(path: string, query?: Query): Promise<T> {
    return this.request<T>("GET", path, query);
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("POST", path, undefined, body);
  }

  /** A file (an alarm's picture or video) as a Blob: the API wants the Bearer token,
   * which an <img src> or a plain link cannot send. ``path`` may carry the API prefix. */
  async blob(path: string): Promise<Blob> {
    const rel = path.startsWith(API_PREFIX + "/") ? path.slice(API_PREFIX.length) : path;
    return (await this.fetchOk("GET", rel, undefined, undefined, "*/*")).blob();
  }

  private async request<T>(method: string, path: string, query?: Query, body?: unknown): Promise<T> {
    return (await (await this.fetchOk(method, path, query, body, "application/json")).json()) as T;
  }

  private async fetchOk(method: string, path: string, query: Query | undefined, body: unknown,
    accept: string): Promise<Response> {
    const url = new URL(API_PREFIX + path, location.origin);
    for (const [k, v] of Object.entries(query ?? {})) if (v != null) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { Accept: accept };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    if (!resp.ok) {
      let detail = resp.statusText;
      try {
        const j = (await resp.json()) as { detail?: unknown };
        if (typeof j.detail === "string") detail = j.detail;
        else if (j.detail) detail = JSON.stringify(j.detail);
      } catch {
        /* not JSON: keep the status text */
      }
      if (resp.status === 401 && this.token) this.onUnauthorized();
      throw new ApiError(resp.status, detail);
    }
    return resp;
  }
}
