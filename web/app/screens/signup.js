// Sign up: phone -> the SMS code (with a resend timer) -> password and name. Three steps of
// one screen; the verification id is kept only in memory.
import * as api from "../api.js";
import { h, clear } from "../dom.js";
import { t } from "../i18n.js";
import { go } from "../router.js";
import { busy, field, showProblem } from "../ui.js";

export default async function signup(container) {
  let timer = null;
  const stop = () => clearInterval(timer);

  function stepPhone() {
    const phone = h("input", { type: "tel", autocomplete: "tel", required: true, inputmode: "tel", placeholder: "+79991234567" });
    const form = h(
      "form",
      { class: "card stack", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field("phone", "auth.phone", phone, "auth.signup.phone_hint"),
      h("button", { class: "primary", type: "submit" }, t("auth.signup.send_code")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, async () => {
        try {
          const started = await api.post("/v1/auth/phone/start", { phone: phone.value.trim() });
          stepCode(phone.value.trim(), started);
        } catch (error) {
          showProblem(form, error);
        }
      });
    });
    draw(form, "auth.signup.step_phone");
    phone.focus();
  }

  function stepCode(phone, started) {
    let verification = started;
    const code = h("input", { type: "text", autocomplete: "one-time-code", inputmode: "numeric", required: true, maxlength: 8 });
    const resend = h("button", { type: "button", class: "link", disabled: true });
    const countdown = (seconds) => {
      stop();
      let left = seconds;
      const tick = () => {
        resend.disabled = left > 0;
        resend.textContent = left > 0 ? t("auth.signup.resend_in", { count: left }) : t("auth.signup.resend");
        left -= 1;
        if (left < -1) stop();
      };
      tick();
      timer = setInterval(tick, 1000);
    };
    const form = h(
      "form",
      { class: "card stack", novalidate: true },
      h("p", {}, t("auth.signup.code_sent", { phone })),
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field("code", "auth.signup.code", code),
      h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, t("auth.signup.verify")), resend),
    );
    resend.addEventListener("click", () =>
      busy(form, async () => {
        try {
          verification = { ...verification, ...(await api.post("/v1/auth/phone/resend", { verification_id: verification.verification_id })) };
          countdown(verification.resend_after);
        } catch (error) {
          showProblem(form, error);
        }
      }),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, async () => {
        try {
          const verified = await api.post("/v1/auth/phone/verify", { verification_id: verification.verification_id, code: code.value.trim() });
          stop();
          stepAccount(verified.registration_token);
        } catch (error) {
          showProblem(form, error);
        }
      });
    });
    draw(form, "auth.signup.step_code");
    countdown(verification.resend_after);
    code.focus();
  }

  function stepAccount(registrationToken) {
    const name = h("input", { type: "text", autocomplete: "name", required: true, maxlength: 64 });
    const password = h("input", { type: "password", autocomplete: "new-password", required: true, minlength: 8 });
    const form = h(
      "form",
      { class: "card stack", novalidate: true },
      h("p", { class: "form-error", role: "alert", hidden: true }),
      field("display_name", "auth.signup.name", name),
      field("password", "auth.password", password, "auth.signup.password_hint"),
      h("button", { class: "primary", type: "submit" }, t("auth.signup.create")),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      busy(form, async () => {
        try {
          const answer = await api.post("/v1/auth/register", { registration_token: registrationToken, password: password.value, display_name: name.value.trim() });
          api.signedIn(answer);
          await go("/profile/edit?welcome=1", { replace: true });
        } catch (error) {
          showProblem(form, error);
        }
      });
    });
    draw(form, "auth.signup.step_account");
    name.focus();
  }

  function draw(form, stepKey) {
    clear(
      container,
      h(
        "div",
        { class: "narrow" },
        h("h1", {}, t("auth.signup.title")),
        h("p", { class: "muted" }, t(stepKey)),
        form,
        h("p", {}, h("a", { href: "/signin" }, t("auth.signin.link"))),
      ),
    );
  }

  stepPhone();
  return stop;
}
