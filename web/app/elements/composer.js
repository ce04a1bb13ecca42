// The post composer: a title, the Markdown body with the server's own preview, attachments
// uploaded with progress bars and described (alt text), visibility and category, a character
// counter, and the API's refusals shown on the form (the word filter names its rule).
// The draft is kept on this device per person, attachments included, so a reload, a screen
// change or a language switch loses nothing; its Idempotency-Key too, so publishing again
// after a lost answer is the same post.
import * as api from "../api.js";
import { h, clear, sanitisedHtml, userText, uuid } from "../dom.js";
import { t } from "../i18n.js";
import { go } from "../router.js";
import { busy, field, problemText, spinner, toast } from "../ui.js";
import { categoryName, loadCategories } from "./categories.js";
import { openDialog } from "./dialog.js";
import { clearProblems, showFormProblem } from "./form-problems.js";

// The API's limits (handlers/posts/commands.py, handlers/media/commands.py).
const TITLE_MAX = 200;
const BODY_MAX = 20_000;
const MEDIA_MAX = 10;
const ALT_MAX = 1_500;
const ACCEPT = "image/jpeg,image/png,image/webp,image/gif,image/avif,image/heic,video/mp4,video/webm,application/pdf";

// A draft is the person's own: when the session ends (signing out, or a session that can no
// longer be refreshed) no draft stays behind on this device for the next person to read.
api.onSession((who) => {
  if (who) return;
  for (const name of Object.keys(localStorage)) if (name.startsWith("quark.draft.")) localStorage.removeItem(name);
});

/** Characters as the API counts them (code points, not UTF-16 units). */
const length = (text) => [...text].length;

function draftKey() {
  const who = api.session();
  return who ? `quark.draft.${who.id}` : null;
}

function loadDraft() {
  try {
    return JSON.parse(localStorage.getItem(draftKey()) || "{}") || {};
  } catch {
    return {};
  }
}

const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * composer({prefix, inline, onPublished}) -> the form. `prefix` keeps ids unique when two
 * composers could be on one page (the home screen's and the dialog's).
 */
export function composer({ prefix = "compose", inline = false, onPublished } = {}) {
  const draft = loadDraft();
  let key = draft.key || uuid();
  const attachments = [];
  let serial = 0;

  const title = h("input", { type: "text", maxlength: TITLE_MAX, autocomplete: "off", value: draft.title || "" });
  const body = h("textarea", { rows: 5, value: draft.body || "" });
  const counter = h("p", { class: "hint counter", id: `${prefix}-body-count` });
  const bodyField = field(`${prefix}-body`, "composer.body", body, "composer.markdown_hint");
  bodyField.querySelector(".error").before(counter);
  body.setAttribute("aria-describedby", `${body.getAttribute("aria-describedby")} ${prefix}-body-count`);
  const preview = h("div", { class: "preview card", id: `${prefix}-preview`, role: "region", "aria-label": t("composer.preview"), "aria-live": "polite", hidden: true });
  const writeTab = h("button", { type: "button", class: "segment", "aria-pressed": "true", onclick: () => mode("write") }, t("composer.write_tab"));
  const previewTab = h("button", { type: "button", class: "segment", "aria-pressed": "false", onclick: () => mode("preview") }, t("composer.preview"));
  const files = h("input", { type: "file", multiple: true, accept: ACCEPT, class: "visually-hidden", id: `${prefix}-files` });
  const list = h("ul", { class: "uploads", "aria-label": t("composer.attachments") });
  const visibility = h("select", {}, h("option", { value: "public" }, t("post.visibility.public")), h("option", { value: "followers" }, t("post.visibility.followers")));
  visibility.value = draft.visibility || "public";
  const category = h("select", {}, h("option", { value: "" }, t("composer.no_category")));
  let categoriesShown = false;
  const status = h("p", { class: "muted small", role: "status" });
  const form = h(
    "form",
    { class: "composer card stack", novalidate: true, "data-composer": inline ? "inline" : "dialog" },
    h("p", { class: "form-error", role: "alert", hidden: true }),
    field(`${prefix}-title`, "composer.title", title),
    h("div", { class: "segments", role: "group", "aria-label": t("composer.mode") }, writeTab, previewTab),
    bodyField,
    preview,
    h(
      "div",
      { class: "field" },
      files,
      h("label", { for: `${prefix}-files`, class: "button" }, h("span", { "aria-hidden": "true" }, "+"), t("composer.attach")),
      list,
      h("p", { class: "error", id: `${prefix}-media_ids-error`, hidden: true }),
    ),
    h("div", { class: "options" }, field(`${prefix}-visibility`, "composer.visibility", visibility), field(`${prefix}-category`, "composer.category", category)),
    h("div", { class: "row end" }, status, h("button", { type: "submit", class: "primary" }, t("composer.publish"))),
  );

  function save() {
    const name = draftKey();
    if (!name) return;
    localStorage.setItem(
      name,
      JSON.stringify({
        key,
        title: title.value,
        body: body.value,
        visibility: visibility.value,
        // Until the list arrives the select cannot hold the draft's choice: keep it.
        category: categoriesShown ? category.value : draft.category || "",
        attachments: attachments.filter((a) => a.id).map(({ id, name: fileName, type, alt }) => ({ id, name: fileName, type, alt })),
      }),
    );
  }

  function count() {
    const left = BODY_MAX - length(body.value);
    counter.textContent = left >= 0 ? t("composer.chars_left", { count: left }) : t("composer.chars_over", { count: -left });
    counter.classList.toggle("over", left < 0);
  }

  async function mode(which) {
    const previewing = which === "preview";
    writeTab.setAttribute("aria-pressed", String(!previewing));
    previewTab.setAttribute("aria-pressed", String(previewing));
    bodyField.hidden = previewing;
    preview.hidden = !previewing;
    if (!previewing) return;
    if (!body.value.trim()) {
      clear(preview, h("p", { class: "muted" }, t("composer.preview_empty")));
      return;
    }
    clear(preview, spinner());
    try {
      // The server renders it as publishing would (mentions, tags, the sanitiser's rules).
      const answer = await api.post("/v1/posts/preview", { body: body.value });
      clear(preview, sanitisedHtml(answer.body_html, "div", { class: "body" }));
    } catch (error) {
      clear(preview, h("p", { class: "error" }, problemText(error)));
    }
  }

  // -- attachments ---------------------------------------------------------------------

  function setState(a, state) {
    a.state = state;
    a.stateText.textContent = t(`composer.upload.${state}`);
    a.li.dataset.state = state;
  }

  function setProgress(a, fraction) {
    a.progress.value = fraction;
    a.progress.setAttribute("aria-valuetext", t("composer.upload.percent", { count: Math.round(fraction * 100) }));
  }

  async function ready(a) {
    // The worker makes the variants after the upload: ask until it is done.
    for (let delay = 250; ; delay = Math.min(delay * 1.5, 3000)) {
      const media = await api.get(`/v1/media/${a.id}`);
      if (media.status === "ready") {
        setState(a, "ready");
        const thumb = media.variants && (media.variants["320"] || media.variants["64"]);
        if (!a.thumb.getAttribute("src") && thumb) a.thumb.src = thumb.url;
        return media;
      }
      if (media.status === "failed") throw new Error(media.reason || "failed");
      await wait(delay);
    }
  }

  function item(a) {
    const n = ++serial;
    const alt = h("textarea", { rows: 2, maxlength: ALT_MAX, value: a.alt });
    alt.addEventListener("input", () => {
      a.alt = alt.value;
      save();
    });
    a.thumb = h("img", { class: "thumb", alt: "" });
    a.progress = h("progress", { max: 1, value: 0, "aria-label": t("composer.upload.progress", { name: a.name }) });
    a.stateText = h("span", { class: "upload-state" });
    a.li = h(
      "li",
      { class: "upload" },
      a.type.startsWith("image/") ? a.thumb : h("span", { class: "thumb file", "aria-hidden": "true" }, "▤"),
      h(
        "div",
        { class: "upload-info" },
        h("p", { class: "row" }, userText(a.name, "span", { class: "upload-name" }), a.stateText),
        a.progress,
      ),
      h("button", { type: "button", class: "icon-button", "aria-label": t("composer.remove", { name: a.name }), onclick: () => remove(a) }, h("span", { "aria-hidden": "true" }, "✕")),
      field(`${prefix}-alt-${n}`, "composer.alt", alt, "composer.alt_hint"),
    );
    list.append(a.li);
    return a;
  }

  function remove(a) {
    attachments.splice(attachments.indexOf(a), 1);
    a.li.remove();
    if (a.blob) URL.revokeObjectURL(a.blob);
    // Never attached: its bytes and its share of the person's storage can go.
    if (a.id) api.del(`/v1/media/${a.id}`).catch(() => {});
    save();
    files.focus();
  }

  function track(a, work) {
    a.ready = work.catch((error) => {
      setState(a, "failed");
      throw error;
    });
    a.ready.catch(() => {}); // reported when publishing
  }

  function add(file) {
    if (attachments.length >= MEDIA_MAX) {
      toast(t("composer.error.too_many", { count: MEDIA_MAX }), { error: true });
      return;
    }
    const a = item({ name: file.name, type: file.type || "", alt: "", savedAlt: "" });
    attachments.push(a);
    if (a.type.startsWith("image/")) {
      a.blob = URL.createObjectURL(file);
      a.thumb.src = a.blob;
    }
    setState(a, "uploading");
    track(
      a,
      (async () => {
        const media = await api.upload(file, (fraction) => setProgress(a, fraction));
        a.id = media.id;
        setProgress(a, 1);
        setState(a, "processing");
        save();
        return ready(a);
      })(),
    );
  }

  files.addEventListener("change", () => {
    for (const file of files.files) add(file);
    files.value = "";
  });

  for (const kept of draft.attachments || []) {
    const a = item({ ...kept, type: kept.type || "", alt: kept.alt || "", savedAlt: null });
    attachments.push(a);
    setProgress(a, 1);
    setState(a, "processing");
    track(a, ready(a));
  }

  // -- publishing ----------------------------------------------------------------------

  // The API's names for the fields -> this form's controls.
  const ids = Object.fromEntries(["title", "body", "visibility", "category", "media_ids"].map((name) => [name, `${prefix}-${name}`]));

  function refuse(fieldName, message) {
    showFormProblem(form, { code: "validation", status: 422, errors: [{ field: fieldName, message }] }, ids);
    form.querySelector(`#${ids[fieldName]}`)?.focus();
  }

  async function publish() {
    mode("write");
    status.textContent = "";
    clearProblems(form);
    if (!body.value.trim()) return refuse("body", t("composer.error.empty"));
    if (length(body.value) > BODY_MAX) return refuse("body", t("composer.chars_over", { count: length(body.value) - BODY_MAX }));
    status.textContent = t("composer.publishing");
    try {
      await Promise.all(attachments.map((a) => a.ready));
    } catch {
      status.textContent = "";
      return refuse("media_ids", t("composer.error.upload"));
    }
    try {
      for (const a of attachments) {
        const text = a.alt.trim();
        if (text !== a.savedAlt && (text || a.savedAlt !== null)) {
          await api.patch(`/v1/media/${a.id}`, { description: text });
          a.savedAlt = text;
        }
      }
      const payload = { body: body.value, visibility: visibility.value, media_ids: attachments.map((a) => a.id) };
      if (title.value.trim()) payload.title = title.value.trim();
      if (category.value) payload.category = category.value;
      const created = await api.post("/v1/posts", payload, { idempotencyKey: key });
      reset();
      toast(t("composer.published"));
      if (onPublished) await onPublished(created.id);
    } catch (error) {
      status.textContent = "";
      // A refusal answered this body: what is sent next is another request, with its own key
      // (the same key with another body is refused). After a failure without an answer the
      // key stays, so trying again cannot publish twice.
      if (error.status >= 400 && error.status < 500) key = uuid();
      save();
      showFormProblem(form, error, ids);
    }
  }

  function reset() {
    for (const a of attachments) if (a.blob) URL.revokeObjectURL(a.blob);
    attachments.length = 0;
    clear(list);
    title.value = "";
    body.value = "";
    category.value = "";
    key = uuid();
    status.textContent = "";
    const name = draftKey();
    if (name) localStorage.removeItem(name);
    count();
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    busy(form, publish);
  });
  body.addEventListener("input", () => {
    count();
    save();
  });
  for (const control of [title, visibility, category]) control.addEventListener("input", save);
  count();
  loadCategories().then((items) => {
    for (const c of items) category.append(h("option", { value: c.slug, "data-user": "" }, categoryName(c.slug)));
    category.value = draft.category && items.some((c) => c.slug === draft.category) ? draft.category : "";
    categoriesShown = true;
  });
  return form;
}

/** The "write" button anywhere: the home screen's composer if it is on the page, else a dialog. */
export function openComposer() {
  const here = document.querySelector('form[data-composer="inline"] textarea');
  if (here) {
    here.scrollIntoView({ block: "center" });
    here.focus();
    return;
  }
  const handle = openDialog({
    title: t("composer.heading"),
    className: "composer-dialog",
    body: composer({
      prefix: "compose-dialog",
      onPublished: async (id) => {
        handle.close();
        await go(`/posts/${id}`);
      },
    }),
  });
  handle.dialog.querySelector("textarea").focus();
}
