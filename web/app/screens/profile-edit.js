// Editing my profile (/profile/edit): name, handle, bio and language, with the API's
// refusals shown on their fields; and my picture, cropped to a square here (see
// elements/avatar-crop.js), uploaded with progress, then named on the profile once the
// media worker has made it ready. `?welcome=1` is where sign-up lands.
import * as api from "../api.js";
import { ApiError } from "../api.js";
import { h, clear } from "../dom.js";
import * as i18n from "../i18n.js";
import { t } from "../i18n.js";
import { avatar, forget } from "../elements/avatar.js";
import { cropper } from "../elements/avatar-crop.js";
import { clearProblem, errorText, placeProblem } from "../elements/problems.js";
import { busy, field, toast } from "../ui.js";

/** Where a conflict about the handle belongs (its problem names no field). */
const ON_FIELD = { "handle-taken": "handle", "handle-reserved": "handle", "handle-cooling-off": "handle" };
const READY_WITHIN = 60_000; // the media worker's usual time is well under a second

/** Tell the rest of the app who I now am (the nav's "Profile" names my handle). */
function remember(me) {
  const who = api.session();
  if (!who) return;
  Object.assign(who, { handle: me.handle, display_name: me.display_name, profile: me });
  const link = document.querySelector('.nav a[data-nav="nav.profile"]');
  if (link) link.setAttribute("href", `/people/${encodeURIComponent(me.handle || who.id)}`);
}

async function whenReady(id) {
  const until = Date.now() + READY_WITHIN;
  for (let wait = 150; Date.now() < until; wait = Math.min(wait * 1.5, 2000)) {
    const view = await api.get(`/v1/media/${encodeURIComponent(id)}`);
    if (view.status === "ready") return view;
    if (view.status === "failed") throw new ApiError(422, { type: view.problem || "quark:media-failed", title: view.reason || "" });
    await new Promise((resolve) => setTimeout(resolve, wait));
  }
  throw new ApiError(503, { type: "quark:media-not-ready" });
}

export default async function profileEdit(container, { query }) {
  let me = await api.get("/v1/me");
  remember(me);

  // -- the picture ------------------------------------------------------------------------
  const preview = h("div", { class: "avatar-preview" });
  // The browser's own file button speaks the browser's language, not the app's: the input
  // is hidden (still focusable) and its label is the button people see.
  const chooser = h("input", { type: "file", id: "avatar-file", class: "visually-hidden", accept: "image/png,image/jpeg,image/webp,image/gif", "aria-describedby": "avatar-file-hint" });
  const cropArea = h("div", { class: "crop-area" });
  const progress = h("progress", { max: "1", value: "0", id: "avatar-progress", "aria-labelledby": "avatar-state" });
  const state = h("p", { id: "avatar-state", role: "status", class: "muted" });
  const remove = h("button", { type: "button", onclick: removeAvatar }, t("profile.edit.avatar_remove"));
  let crop = null;
  progress.hidden = true;

  function drawPreview() {
    clear(preview, avatar(me, { large: true }));
    remove.hidden = !me.avatar_media_id;
  }

  chooser.addEventListener("change", async () => {
    const file = chooser.files && chooser.files[0];
    if (crop) crop.close();
    crop = null;
    clear(cropArea);
    state.textContent = "";
    if (!file) return;
    try {
      crop = await cropper(file);
    } catch {
      state.textContent = t("profile.edit.avatar_not_image");
      return;
    }
    const use = h("button", { type: "button", class: "primary", onclick: () => upload(use) }, t("profile.edit.avatar_use"));
    const cancel = h("button", { type: "button", onclick: () => { crop.close(); crop = null; clear(cropArea); chooser.value = ""; } }, t("profile.edit.avatar_cancel"));
    clear(cropArea, crop.element, h("div", { class: "row" }, use, cancel));
    crop.focus();
  });

  async function upload(button) {
    button.disabled = true;
    progress.hidden = false;
    progress.value = 0;
    state.textContent = t("profile.edit.avatar_uploading");
    try {
      const blob = await crop.blob();
      const media = await api.upload(new File([blob], "avatar.png", { type: "image/png" }), (done) => {
        progress.value = done;
      });
      progress.removeAttribute("value"); // indeterminate while the worker makes the variants
      state.textContent = t("profile.edit.avatar_processing");
      await whenReady(media.id);
      await api.patch("/v1/me", { avatar_media_id: media.id });
      if (me.avatar_media_id) forget(me.avatar_media_id);
      me = await api.get("/v1/me");
      remember(me);
      crop.close();
      crop = null;
      clear(cropArea);
      chooser.value = "";
      drawPreview();
      state.textContent = t("profile.edit.avatar_saved");
    } catch (error) {
      state.textContent = errorText("profile", error);
      button.disabled = false;
    } finally {
      progress.hidden = true;
    }
  }

  async function removeAvatar() {
    try {
      await api.patch("/v1/me", { avatar_media_id: null });
      me = await api.get("/v1/me");
      remember(me);
      drawPreview();
      state.textContent = t("profile.edit.avatar_removed");
    } catch (error) {
      state.textContent = errorText("profile", error);
    }
  }

  // -- name, handle, bio, language -------------------------------------------------------
  const name = h("input", { type: "text", autocomplete: "name", required: true, maxlength: 64, value: me.display_name });
  const handle = h("input", { type: "text", autocomplete: "username", autocapitalize: "none", spellcheck: "false", maxlength: 30, value: me.handle || "" });
  const bio = h("textarea", { maxlength: 500, rows: 4 });
  bio.value = me.bio || "";
  const locale = h(
    "select",
    {},
    // Until a language is saved the app follows the browser; once saved it can be changed,
    // not unset (the API has no "none").
    me.locale ? null : h("option", { value: "" }, t("profile.edit.locale_auto")),
    i18n.LANGUAGES.map((lang) => h("option", { value: lang, lang, translate: "no" }, t(`settings.language_name.${lang}`))),
  );
  locale.value = (me.locale || "").split("-")[0];
  const saved = h("p", { role: "status", class: "saved" });
  const form = h(
    "form",
    { class: "card stack", novalidate: true, "aria-labelledby": "profile-details" },
    h("h2", { id: "profile-details" }, t("profile.edit.details")),
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field("display_name", "profile.edit.name", name),
    field("handle", "profile.edit.handle", handle, "profile.edit.handle_hint"),
    field("bio", "profile.edit.bio", bio, "profile.edit.bio_hint"),
    field("locale", "profile.edit.locale", locale),
    h("div", { class: "row" }, h("button", { class: "primary", type: "submit" }, t("profile.edit.save")), saved),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    saved.textContent = "";
    const changes = {};
    if (name.value.trim() !== me.display_name) changes.display_name = name.value.trim();
    if (handle.value.trim().replace(/^@/, "") !== (me.handle || "")) changes.handle = handle.value.trim().replace(/^@/, "");
    if (bio.value !== (me.bio || "")) changes.bio = bio.value;
    if (locale.value && locale.value !== (me.locale || "").split("-")[0]) changes.locale = locale.value;
    if (!Object.keys(changes).length) {
      saved.textContent = t("profile.edit.unchanged");
      return;
    }
    busy(form, async () => {
      try {
        await api.patch("/v1/me", changes);
        clearProblem(form);
        me = await api.get("/v1/me");
        remember(me);
        drawLinks();
        if (changes.locale && changes.locale !== i18n.current()) {
          // The whole app redraws in the new language (this screen too).
          await i18n.choose(changes.locale);
          toast(t("profile.edit.saved"));
          return;
        }
        saved.textContent = t("profile.edit.saved");
      } catch (error) {
        placeProblem(form, error, { area: "profile", byCode: ON_FIELD });
      }
    });
  });

  const links = h("p", { class: "row" });
  function drawLinks() {
    clear(links, me.handle ? h("a", { href: `/people/${encodeURIComponent(me.handle)}` }, t("profile.edit.view")) : h("span", { class: "muted" }, t("profile.edit.no_handle")));
  }

  drawPreview();
  drawLinks();
  clear(
    container,
    h("h1", {}, t("profile.edit.title")),
    query.welcome ? h("p", { class: "welcome", role: "status" }, t("profile.edit.welcome")) : null,
    links,
    h(
      "section",
      { class: "card stack avatar-editor", "aria-labelledby": "avatar-title" },
      h("h2", { id: "avatar-title" }, t("profile.edit.avatar")),
      h("div", { class: "row" }, preview, remove),
      h("div", { class: "field file-field" }, chooser, h("label", { for: "avatar-file", class: "button" }, t("profile.edit.avatar_choose")), h("p", { class: "hint", id: "avatar-file-hint" }, t("profile.edit.avatar_hint"))),
      cropArea,
      progress,
      state,
    ),
    form,
  );
  return () => crop && crop.close();
}
