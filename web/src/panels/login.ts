// The login page: username and password → an API token (POST /api/v1/auth/login).

import { ApiError, type Api } from "../api";
import { t } from "../i18n";
import { login } from "../session";
import type { Me } from "../types";
import { byId } from "../ui/dom";

export function showLogin(api: Api, onLoggedIn: (me: Me) => void, notice = ""): void {
  const view = byId("login-view");
  const form = byId<HTMLFormElement>("login-form");
  const error = byId("login-error");
  const submit = byId<HTMLButtonElement>("login-submit");
  view.hidden = false;
  byId("app-view").hidden = true;
  error.textContent = notice;
  byId<HTMLInputElement>("login-username").focus();
  form.onsubmit = async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    submit.disabled = true;
    error.textContent = "";
    try {
      const me = await login(api, String(data.get("username") ?? ""), String(data.get("password") ?? ""));
      byId<HTMLInputElement>("login-password").value = "";
      view.hidden = true;
      onLoggedIn(me);
    } catch (e) {
      error.textContent = e instanceof ApiError && e.status === 401 ? t("login.failed")
        : t("login.error", { detail: e instanceof ApiError ? e.detail : String(e) });
    } finally {
      submit.disabled = false;
    }
  };
}
