// Zoom and pan on a chart with the mouse (wheel, drag), touch (drag) and keyboard (arrows, +, −), and a
// readout of the value under the pointer. The owner re-queries the API for the new range.

import { s } from "./dom.js";

const KEY_PAN = { ArrowLeft: -0.25, ArrowRight: 0.25 };
const KEY_ZOOM = { "+": 0.5, "=": 0.5, "-": 2, _: 2 };

/** `chart` is what timeChart returned; `onRange(start, end)` asks for a new range (null: no zoom or pan,
 * the readout only); `readout(ms)` gives the text for the instant under the pointer, shown in `output`. */
export function attachInteraction(chart, { start, end, onRange, readout, output }) {
  const { svg, plot, invert } = chart;
  const span = end - start;
  if (onRange) {
    svg.setAttribute("tabindex", "0");
    svg.classList.add("interactive");
  }
  const cursor = s("line", { class: "cursor", y1: plot.top, y2: plot.top + plot.height, x1: -10, x2: -10 });
  svg.append(cursor);
  let drag = null;

  const local = (event) => {
    const box = svg.getBoundingClientRect();
    return (event.clientX - box.left) * (svg.viewBox.baseVal.width / box.width);
  };
  const inside = (px) => px >= plot.left && px <= plot.left + plot.width;
  const zoom = (factor, center) => {
    const width = Math.max(10 * 60_000, span * factor);
    const ratio = (center - start) / span;
    onRange(Math.round(center - ratio * width), Math.round(center - ratio * width + width));
  };

  svg.addEventListener("wheel", (event) => {
    const px = local(event);
    if (!onRange || !inside(px)) return;
    event.preventDefault();
    zoom(event.deltaY > 0 ? 1.5 : 1 / 1.5, invert(px));
  }, { passive: false });
  svg.addEventListener("pointerdown", (event) => {
    if (!onRange || event.button !== 0 || !inside(local(event))) return;
    drag = { x: local(event), id: event.pointerId };
    svg.setPointerCapture(event.pointerId);
    svg.classList.add("dragging");
  });
  svg.addEventListener("pointermove", (event) => {
    const px = local(event);
    if (drag) {
      const shift = px - drag.x;
      for (const layer of svg.querySelectorAll(".series-all > g, .gaps > rect")) {
        layer.setAttribute("transform", `translate(${shift.toFixed(1)},0)`);
      }
      return;
    }
    if (!inside(px)) return;
    const ms = invert(px);
    cursor.setAttribute("x1", px.toFixed(1));
    cursor.setAttribute("x2", px.toFixed(1));
    if (output && readout) output.textContent = readout(ms) || "";
  });
  const endDrag = (event) => {
    if (!drag) return;
    const shift = local(event) - drag.x;
    svg.releasePointerCapture(drag.id);
    svg.classList.remove("dragging");
    drag = null;
    if (Math.abs(shift) > 3) {
      const delta = Math.round((shift / plot.width) * span);
      onRange(start - delta, end - delta);
    }
  };
  svg.addEventListener("pointerup", endDrag);
  svg.addEventListener("pointercancel", endDrag);
  svg.addEventListener("pointerleave", () => {
    if (drag) return;
    cursor.setAttribute("x1", -10);
    cursor.setAttribute("x2", -10);
  });
  svg.addEventListener("keydown", (event) => {
    if (!onRange) return;
    if (event.key in KEY_PAN) {
      event.preventDefault();
      const delta = Math.round(span * KEY_PAN[event.key]);
      onRange(start + delta, end + delta);
    } else if (event.key in KEY_ZOOM) {
      event.preventDefault();
      zoom(KEY_ZOOM[event.key], start + span / 2);
    }
  });
}
