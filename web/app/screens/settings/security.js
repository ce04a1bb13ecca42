// Security: change my password (every other session ends), and two-factor authentication —
// set up from the API's QR code or secret, turned on with a first code (the recovery codes
// are shown once, to copy or download), turned off with a code.
import * as api from "../../api.js";
import { h, clear } from "../../dom.js";
import { t } from "../../i18n.js";
import { clearProblem, errorText, placeProblem } from "../../elements/problems.js";
import { busy, field, toast } from "../../ui.js";

const ON_FIELD = { "wrong-password": "old_password", "weak-password": "new_password", "invalid-code": "code", "locked-out": "code" };

function passwordForm() {
  const old = h("input", { type: "password", autocomplete: "current-password", required: true });
  const next = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 10 });
  const done = h("p", { role: "status" });
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "password-title" },
    h("h2", { id: "password-title" }, t("settings.password.title")),
    h("p", { class: "muted" }, t("settings.password.detail")),
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field("old_password", "settings.password.old", old),
    field("new_password", "settings.password.new", next, "settings.password.hint"),
    h("button", { type: "submit", class: "primary" }, t("settings.password.submit")),
    done,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    done.textContent = "";
    busy(form, async () => {
      try {
        await api.post("/v1/auth/password", { old_password: old.value, new_password: next.value });
        clearProblem(form);
        form.reset();
        done.textContent = t("settings.password.changed");
      } catch (error) {
        placeProblem(form, error, { area: "settings", byCode: ON_FIELD });
      }
    });
  });
  return form;
}

/** A form with one code field (id "code", as the API names it). */
function codeForm(labelKey, hintKey, submitKey, danger, send) {
  const code = h("input", { type: "text", autocomplete: "one-time-code", inputmode: "numeric", required: true, maxlength: 32 });
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field("code", labelKey, code, hintKey),
    h("button", { type: "submit", class: danger ? "danger" : "primary" }, t(submitKey)),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      try {
        await send(code.value.replace(/\s+/g, ""));
      } catch (error) {
        placeProblem(form, error, { area: "settings", byCode: ON_FIELD });
      }
    });
  });
  return form;
}

function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function twoFactor() {
  const box = h("section", { class: "card stack", "aria-labelledby": "twofa-title", "aria-busy": "true" });
  const head = () => [h("h2", { id: "twofa-title" }, t("settings.2fa.title")), h("p", { class: "muted" }, t("settings.2fa.detail"))];

  function draw(enabled) {
    box.removeAttribute("aria-busy");
    if (enabled) {
      clear(
        box,
        head(),
        h("p", { class: "chip on", role: "status" }, t("settings.2fa.on")),
        codeForm("settings.2fa.off_code", "settings.2fa.off_hint", "settings.2fa.disable", true, async (code) => {
          await api.post("/v1/auth/2fa/disable", { code });
          draw(false);
          box.querySelector("button")?.focus();
          toast(t("settings.2fa.disabled"));
        }),
      );
    } else {
      const start = h("button", { type: "button", class: "primary", onclick: () => setup(start) }, t("settings.2fa.setup"));
      clear(box, head(), h("p", { class: "chip", role: "status" }, t("settings.2fa.off")), h("p", {}, start));
    }
  }

  async function setup(button) {
    button.disabled = true;
    let secret;
    try {
      secret = await api.post("/v1/auth/2fa/setup", {});
    } catch (error) {
      button.disabled = false;
      toast(errorText("settings", error), { error: true });
      return;
    }
    // The API's QR code is an SVG document: shown as an image (data: URL), never inserted
    // into the page as markup.
    const qr = h("img", { class: "qr", src: `data:image/svg+xml;charset=utf-8,${encodeURIComponent(secret.qr_svg)}`, alt: t("settings.2fa.qr_alt") });
    const grouped = secret.secret.replace(/(.{4})/g, "$1 ").trim();
    clear(
      box,
      head(),
      h("ol", { class: "steps" },
        h("li", {}, t("settings.2fa.step_scan"), h("div", { class: "qr-box" }, qr)),
        h("li", {}, t("settings.2fa.step_secret"), " ", h("code", { class: "secret", translate: "no", id: "totp-secret" }, grouped)),
        h("li", {}, t("settings.2fa.step_code"))),
      codeForm("settings.2fa.code", "settings.2fa.code_hint", "settings.2fa.enable", false, async (code) => {
        const { recovery_codes: codes } = await api.post("/v1/auth/2fa/enable", { code });
        showCodes(codes);
      }),
    );
    box.querySelector("input")?.focus();
  }

  function showCodes(codes) {
    const text = `${codes.join("\n")}\n`;
    const copy = h("button", { type: "button", onclick: async () => {
      try {
        await navigator.clipboard.writeText(text);
        toast(t("settings.2fa.copied"));
      } catch {
        toast(t("settings.2fa.copy_failed"), { error: true });
      }
    } }, t("settings.2fa.copy"));
    const save = h("button", { type: "button", onclick: () => download("quark-recovery-codes.txt", text, "text/plain") }, t("settings.2fa.download"));
    const done = h("button", { type: "button", class: "primary", onclick: () => { draw(true); box.querySelector("button")?.focus(); } }, t("settings.2fa.saved_them"));
    clear(
      box,
      head(),
      h("p", { class: "chip on", role: "status" }, t("settings.2fa.on")),
      h("h3", { id: "codes-title" }, t("settings.2fa.codes_title")),
      h("p", {}, t("settings.2fa.codes_detail")),
      h("ol", { class: "codes", translate: "no", "aria-labelledby": "codes-title" }, codes.map((c) => h("li", {}, h("code", {}, c)))),
      h("div", { class: "row" }, copy, save, done),
    );
    copy.focus();
  }

  api.get("/v1/auth/2fa").then((s) => draw(s.enabled), () => draw(false));
  return box;
}

export default async function security(root) {
  clear(root, passwordForm(), twoFactor());
}
