// Writing a message: the text (Enter sends, Shift+Enter is a new line), the message it
// replies to, attachments (uploaded at once with progress, sent once they are ready), and
// "typing" told to the others while writing (the gateway passes it on at most every 3 s,
// so the page does not send more often either).

import * as api from "../../api.js";
import { h, clear, userText } from "../../dom.js";
import { t } from "../../i18n.js";
import { problemText } from "../../ui.js";
import { nameOf } from "../../elements/listing.js";
import { wait } from "./common.js";

const TYPING_EVERY = 3000;

async function whenReady(mediaId) {
  // The media worker makes the variants after the upload: a message takes ready media only.
  for (let i = 0; i < 60; i += 1) {
    const media = await api.get(`/v1/media/${mediaId}`);
    if (media.status === "ready") return media;
    if (media.status === "failed") throw Object.assign(new Error(media.reason || "failed"), { code: "media-failed" });
    await wait(500);
  }
  throw Object.assign(new Error("timeout"), { code: "media-timeout" });
}

/** composer({onSend, onTyping}) -> {element, replyTo(message, author), focus(), enable(on, noteKey)} */
export function composer({ onSend, onTyping }) {
  let replying = null;
  let lastTyping = 0;
  const uploads = []; // {name, promise, media, chip}
  const text = h("textarea", { id: "composer-text", rows: 1, placeholder: t("chat.composer.placeholder"), autocomplete: "off" });
  const replyBox = h("div", { class: "composer-reply", hidden: true });
  const files = h("ul", { class: "composer-files", "aria-label": t("chat.composer.attachments") });
  const error = h("p", { class: "form-error", role: "alert", hidden: true });
  const note = h("p", { class: "muted composer-note", hidden: true });
  const fileInput = h("input", { type: "file", id: "composer-file", class: "visually-hidden attach-input", accept: "image/*,video/*", multiple: true });
  // On a phone the button is an arrow (its word stays for screen readers): the text needs the room.
  const send = h("button", { type: "submit", class: "primary send" }, h("span", { class: "send-icon", "aria-hidden": "true" }, "➤"), h("span", { class: "send-label" }, t("chat.composer.send")));
  const form = h(
    "form",
    { class: "composer", novalidate: true },
    replyBox,
    files,
    error,
    h(
      "div",
      { class: "composer-row" },
      h("label", { for: "composer-text", class: "visually-hidden" }, t("chat.composer.label")),
      text,
      fileInput,
      h("label", { for: "composer-file", class: "button icon-button attach", title: t("chat.composer.attach") }, h("span", { "aria-hidden": "true" }, "+"), h("span", { class: "visually-hidden" }, t("chat.composer.attach"))),
      send,
    ),
  );
  const element = h("div", { class: "composer-wrap" }, form, note);

  function showError(message) {
    error.textContent = message || "";
    error.hidden = !message;
  }

  function replyTo(message, author) {
    replying = message;
    if (!message) {
      replyBox.hidden = true;
      clear(replyBox);
      return;
    }
    clear(
      replyBox,
      h(
        "div",
        { class: "quote" },
        h("span", { class: "quote-who" }, t("chat.composer.replying", { name: nameOf(author) || t("chat.message.someone") })),
        userText(message.body || t("chat.attachment"), "span", { class: "quote-body" }),
      ),
      h("button", { type: "button", class: "link", onclick: () => { replyTo(null); text.focus(); } }, t("chat.composer.cancel_reply")),
    );
    replyBox.hidden = false;
    text.focus();
  }

  fileInput.addEventListener("change", () => {
    for (const file of fileInput.files) {
      const progress = h("progress", { max: 1, value: 0, "aria-label": t("chat.composer.uploading") });
      const chip = h("li", { class: "chip" }, userText(file.name), progress);
      const upload = { chip, media: null };
      upload.promise = api
        .upload(file, (share) => (progress.value = share))
        .then((answer) => whenReady(answer.id))
        .then((media) => {
          upload.media = media;
          progress.remove();
        })
        .catch((err) => {
          chip.remove();
          uploads.splice(uploads.indexOf(upload), 1);
          showError(problemText(err));
        });
      const remove = h("button", { type: "button", class: "link", "aria-label": t("chat.composer.remove_file"), onclick: () => { chip.remove(); uploads.splice(uploads.indexOf(upload), 1); } }, h("span", { "aria-hidden": "true" }, "×"));
      chip.append(remove);
      uploads.push(upload);
      files.append(chip);
    }
    fileInput.value = "";
  });

  text.addEventListener("input", () => {
    const now = Date.now();
    if (text.value && now - lastTyping > TYPING_EVERY) {
      lastTyping = now;
      onTyping();
    }
  });
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = text.value.trim();
    if (!body && !uploads.length) return;
    showError("");
    send.disabled = true;
    try {
      await Promise.all(uploads.map((u) => u.promise));
      const media_ids = uploads.filter((u) => u.media).map((u) => u.media.id);
      if (!body && !media_ids.length) return;
      const draft = { body, reply_to: replying ? replying.id : null, media_ids };
      text.value = "";
      uploads.splice(0);
      clear(files);
      replyTo(null);
      lastTyping = 0;
      const problem = await onSend(draft);
      if (problem) {
        text.value = body; // give the words back: nothing was sent
        showError(problem);
      }
    } finally {
      send.disabled = false;
      text.focus();
    }
  });

  return {
    element,
    replyTo,
    focus: () => text.focus(),
    /** Writing allowed, or not, with why (a catalog key). */
    enable(on, noteKey) {
      form.hidden = !on;
      note.hidden = on || !noteKey;
      if (noteKey) note.textContent = t(noteKey);
    },
  };
}
