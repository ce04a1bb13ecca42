// My data: download everything held about me (one JSON file), and erase my account — behind
// a dialog that says what goes and what stays, asking for the password (and a code when
// the second factor is on); then this browser forgets the session the server has ended.
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { t } from "../../i18n.js";
import { go } from "../../router.js";
import { confirmDialog } from "../../elements/dialog.js";
import { errorText, placeProblem } from "../../elements/problems.js";
import { busy, field, toast } from "../../ui.js";

async function exportData(button, status) {
  await busy(button.parentElement, async () => {
    status.textContent = t("settings.data.preparing");
    try {
      const response = await api.request("GET", "/v1/me/export", { raw: true, headers: { Accept: "application/json" } });
      if (!response.ok) throw new api.ApiError(response.status, await response.json().catch(() => ({})));
      const url = URL.createObjectURL(await response.blob());
      const link = h("a", { href: url, download: "quark-export.json", hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      status.textContent = t("settings.data.exported");
    } catch (error) {
      status.textContent = errorText("settings", error);
    }
  });
}

async function erase(twoFactor) {
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const code = twoFactor ? h("input", { type: "text", autocomplete: "one-time-code", required: true, maxlength: 32 }) : null;
  const erased = await confirmDialog({
    title: t("settings.erase.title"),
    danger: true,
    confirm: t("settings.erase.confirm"),
    body: [
      h("p", {}, t("settings.erase.lost")),
      h("ul", {}, ["settings.erase.lost_profile", "settings.erase.lost_phone", "settings.erase.lost_sessions", "settings.erase.lost_log"].map((key) => h("li", {}, t(key)))),
      h("p", {}, t("settings.erase.kept")),
      h("p", { class: "warning" }, t("settings.erase.final")),
      field("password", "settings.erase.password", password),
      code ? field("code", "settings.erase.code", code, "settings.erase.code_hint") : null,
    ],
    work: async (form) => {
      try {
        await api.del("/v1/me", { body: { password: password.value, code: code ? code.value.replace(/\s+/g, "") : null } });
        return true;
      } catch (error) {
        placeProblem(form, error, { area: "settings", byCode: { "wrong-password": "password", "invalid-code": "code" } });
        throw error;
      }
    },
  });
  if (!erased) return;
  await go("/public", { replace: true });
  api.forgetSession();
  toast(t("settings.erase.done"));
}

export default async function data(root) {
  const status = h("p", { role: "status", class: "muted" });
  const download = h("button", { type: "button", class: "primary", onclick: () => exportData(download, status) }, t("settings.data.export"));
  const eraseButton = h("button", { type: "button", class: "danger", onclick: async () => {
    let enabled = false;
    try {
      enabled = (await api.get("/v1/auth/2fa")).enabled;
    } catch {
      enabled = false;
    }
    await erase(enabled);
  } }, t("settings.erase.open"));
  clear(
    root,
    h("section", { class: "card stack", "aria-labelledby": "export-title" }, h("h2", { id: "export-title" }, t("settings.data.title")), h("p", {}, t("settings.data.detail")), h("div", { class: "row" }, download), status),
    h("section", { class: "card stack danger-zone", "aria-labelledby": "erase-title" }, h("h2", { id: "erase-title" }, t("settings.erase.title")), h("p", {}, t("settings.erase.detail")), h("p", {}, eraseButton)),
  );
}
