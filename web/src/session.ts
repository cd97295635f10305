// The logged-in user: the API token from POST /auth/login (kept in localStorage so
// a reload or a second tab stays logged in until logout or expiry) and /me.

import { Api, ApiError } from "./api";
import type { LoginResponse, Me } from "./types";

const TOKEN_KEY = "icv.token";

export function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export function forgetToken(): void {
  try {
    localStorage.removeItem(TOKEN_KEY);
  } catch {
    /* nothing kept */
  }
}

export async function login(api: Api, username: string, password: string): Promise<Me> {
  const r = await api.post<LoginResponse>("/auth/login", { username, password });
  api.setToken(r.token);
  try {
    localStorage.setItem(TOKEN_KEY, r.token);
  } catch {
    /* the token lasts for this page only */
  }
  return api.get<Me>("/me");
}

/** The user behind a stored token, or null when it is unknown or expired. */
export async function resume(api: Api): Promise<Me | null> {
  if (!api.getToken()) return null;
  try {
    return await api.get<Me>("/me");
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) {
      forgetToken();
      api.setToken(null);
      return null;
    }
    throw e;
  }
}

export function canSeeFrames(me: Me): boolean {
  return me.role === "operator" || me.role === "admin";
}
