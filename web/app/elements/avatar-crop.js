// Choosing the square of a picture that becomes an avatar: the picture is drawn on a
// <canvas> under a round mask (a CSS overlay, so its colour is a token); dragging moves it,
// the wheel, the slider and + / − zoom, and the arrow keys move it too, so it works without a
// pointer. The crop is made here (canvas.toBlob): only the square is uploaded, at a fixed
// size, whatever the original's size.
import { h } from "../dom.js";
import { t } from "../i18n.js";

const VIEW = 320; // the canvas's side in its own pixels (CSS scales it down on phones)
const OUT = 512; // the uploaded square's side
const MAX_ZOOM = 4; // times the smallest scale that covers the square
const STEP = 16; // arrow key step, in canvas pixels (shift: 4 times)

/** cropper(file) -> {element, blob(): Promise<Blob>, close()}; rejects if not a picture. */
export async function cropper(file) {
  const image = await createImageBitmap(file);
  const canvas = h("canvas", {
    width: VIEW,
    height: VIEW,
    class: "crop-canvas",
    tabindex: "0",
    role: "application",
    "aria-roledescription": t("crop.role"),
    "aria-label": t("crop.label"),
    "aria-describedby": "crop-hint",
  });
  const cover = Math.max(VIEW / image.width, VIEW / image.height);
  let zoom = 1; // relative to `cover`
  let x = 0; // the image's top-left corner on the canvas
  let y = 0;
  const scale = () => cover * zoom;

  function clamp() {
    const w = image.width * scale();
    const hgt = image.height * scale();
    x = Math.min(0, Math.max(VIEW - w, x));
    y = Math.min(0, Math.max(VIEW - hgt, y));
  }

  function draw() {
    clamp();
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, VIEW, VIEW);
    ctx.drawImage(image, x, y, image.width * scale(), image.height * scale());
    slider.value = String(zoom);
  }

  /** Zoom to `next` keeping the point (cx, cy) of the canvas where it is. */
  function zoomTo(next, cx = VIEW / 2, cy = VIEW / 2) {
    const z = Math.min(MAX_ZOOM, Math.max(1, next));
    const ratio = z / zoom;
    x = cx - (cx - x) * ratio;
    y = cy - (cy - y) * ratio;
    zoom = z;
    draw();
  }

  const slider = h("input", { type: "range", min: "1", max: String(MAX_ZOOM), step: "0.01", value: "1", id: "crop-zoom" });
  slider.addEventListener("input", () => zoomTo(Number(slider.value)));

  // Dragging: the pointer's movement in CSS pixels, turned into canvas pixels.
  let drag = null;
  canvas.addEventListener("pointerdown", (event) => {
    canvas.setPointerCapture(event.pointerId);
    drag = { px: event.clientX, py: event.clientY, x, y, ratio: VIEW / canvas.getBoundingClientRect().width };
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drag) return;
    x = drag.x + (event.clientX - drag.px) * drag.ratio;
    y = drag.y + (event.clientY - drag.py) * drag.ratio;
    draw();
  });
  const stop = () => {
    drag = null;
  };
  canvas.addEventListener("pointerup", stop);
  canvas.addEventListener("pointercancel", stop);
  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = canvas.getBoundingClientRect();
    const ratio = VIEW / box.width;
    zoomTo(zoom * (event.deltaY < 0 ? 1.1 : 1 / 1.1), (event.clientX - box.left) * ratio, (event.clientY - box.top) * ratio);
  }, { passive: false });
  canvas.addEventListener("keydown", (event) => {
    const step = event.shiftKey ? STEP * 4 : STEP;
    const moves = { ArrowLeft: [step, 0], ArrowRight: [-step, 0], ArrowUp: [0, step], ArrowDown: [0, -step] };
    if (moves[event.key]) {
      // The arrow moves the crop window over the picture: the picture goes the other way.
      x += moves[event.key][0];
      y += moves[event.key][1];
      draw();
    } else if (event.key === "+" || event.key === "=") zoomTo(zoom * 1.1);
    else if (event.key === "-" || event.key === "_") zoomTo(zoom / 1.1);
    else return;
    event.preventDefault();
  });

  const element = h(
    "div",
    { class: "crop" },
    h("div", { class: "crop-frame" }, canvas, h("span", { class: "crop-mask", "aria-hidden": "true" })),
    h("p", { class: "hint", id: "crop-hint" }, t("crop.hint")),
    h(
      "div",
      { class: "crop-zoom row" },
      h("button", { type: "button", class: "icon-button", "aria-label": t("crop.zoom_out"), onclick: () => zoomTo(zoom / 1.25) }, "−"),
      h("label", { for: "crop-zoom", class: "visually-hidden" }, t("crop.zoom")),
      slider,
      h("button", { type: "button", class: "icon-button", "aria-label": t("crop.zoom_in"), onclick: () => zoomTo(zoom * 1.25) }, "+"),
    ),
  );
  // Start centred.
  x = (VIEW - image.width * cover) / 2;
  y = (VIEW - image.height * cover) / 2;
  draw();

  return {
    element,
    focus: () => canvas.focus(),
    /** The chosen square, OUT px a side, as a PNG. */
    blob() {
      const out = h("canvas", { width: OUT, height: OUT });
      const side = VIEW / scale();
      out.getContext("2d").drawImage(image, -x / scale(), -y / scale(), side, side, 0, 0, OUT, OUT);
      return new Promise((resolve, reject) => out.toBlob((b) => (b ? resolve(b) : reject(new Error("toBlob"))), "image/png"));
    },
    close: () => image.close(),
  };
}
