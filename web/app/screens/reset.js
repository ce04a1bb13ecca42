// Forgotten password: the SMS code, then a new password (every session ends).
import * as api from "../api.js";
import { h, clear } from "../dom.js";
import { t } from "../i18n.js";
import { go } from "../router.js";
import { busy, field, showProblem, toast } from "../ui.js";

export default async function reset(container) {
  const phone = h("input", { type: "tel", autocomplete: "tel", required: true, inputmode: "tel" });
  const first = h(
    "form",
    { class: "card stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field("phone", "auth.phone", phone),
    h("button", { class: "primary", type: "submit" }, t("auth.reset.send_code")),
  );
  first.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(first, async () => {
      try {
        const started = await api.post("/v1/auth/password/reset/start", { phone: phone.value.trim() });
        second(started.verification_id);
      } catch (error) {
        showProblem(first, error);
      }
    });
  });

  function second(verificationId) {
    const code = h("input", { type: "text", autocomplete: "one-time-code", inputmode: "numeric", required: true });
    const password = h("input", { type: "password", autocomplete: "new-password", required: true });
    const form = h(
      "form",
      { class: "card stack", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field("code", "auth.signup.code", code),
      field("new_password", "auth.reset.new_password", password, "auth.signup.password_hint"),
      h("button", { class: "primary", type: "submit" }, t("auth.reset.submit")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, async () => {
        try {
          await api.post("/v1/auth/password/reset", { verification_id: verificationId, code: code.value.trim(), new_password: password.value });
          toast(t("auth.reset.done"));
          await go("/signin", { replace: true });
        } catch (error) {
          showProblem(form, error);
        }
      });
    });
    clear(container, h("div", { class: "narrow" }, h("h1", {}, t("auth.reset.title")), form));
    code.focus();
  }

  clear(container, h("div", { class: "narrow" }, h("h1", {}, t("auth.reset.title")), first));
}
