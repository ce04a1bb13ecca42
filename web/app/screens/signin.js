// Sign in with phone and password; a second step for a TOTP or recovery code when the
// account has 2FA. The refresh token arrives as an HttpOnly cookie (api.js asks for it).
import * as api from "../api.js";
import { h, clear } from "../dom.js";
import { t } from "../i18n.js";
import { go } from "../router.js";
import { busy, field, showProblem } from "../ui.js";

function nextPath(query) {
  // A suspended person's session reaches little but their standing, where they can appeal.
  if (api.session() && api.session().restricted) return "/standing";
  const next = query.next || "";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/home";
}

export default async function signin(container, { query }) {
  const phone = h("input", { type: "tel", autocomplete: "tel", required: true, inputmode: "tel", placeholder: "+79991234567" });
  const password = h("input", { type: "password", autocomplete: "current-password", required: true });
  const form = h(
    "form",
    { class: "card stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field("phone", "auth.phone", phone),
    field("password", "auth.password", password),
    h("button", { class: "primary", type: "submit" }, t("auth.signin.submit")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      try {
        const answer = await api.post("/v1/auth/login", { phone: phone.value.trim(), password: password.value });
        if (answer.mfa_required) return secondFactor(container, answer.mfa_token, query);
        api.signedIn(answer);
        await go(nextPath(query), { replace: true });
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  clear(
    container,
    h(
      "div",
      { class: "narrow" },
      h("h1", {}, t("auth.signin.title")),
      form,
      h(
        "p",
        { class: "row" },
        h("a", { href: "/signup" }, t("auth.signup.link")),
        h("span", { "aria-hidden": "true" }, "·"),
        h("a", { href: "/reset" }, t("auth.reset.link")),
      ),
    ),
  );
}

function secondFactor(container, mfaToken, query) {
  const code = h("input", { type: "text", autocomplete: "one-time-code", required: true, inputmode: "text", maxlength: 32 });
  const form = h(
    "form",
    { class: "card stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field("code", "auth.2fa.code", code, "auth.2fa.hint"),
    h("button", { class: "primary", type: "submit" }, t("auth.2fa.submit")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, async () => {
      try {
        const answer = await api.post("/v1/auth/login/2fa", { mfa_token: mfaToken, code: code.value.replace(/\s+/g, "") });
        api.signedIn(answer);
        await go(nextPath(query), { replace: true });
      } catch (error) {
        showProblem(form, error);
      }
    });
  });
  clear(container, h("div", { class: "narrow" }, h("h1", {}, t("auth.2fa.title")), form));
  code.focus();
}
