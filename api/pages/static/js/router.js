// Hash routes: `#/`, `#/participants/<id>?start=…&end=…`, `#/adherence`, `#/alerts`, `#/login`.

/** `#/participants/P0001?start=…` → { path: ["participants", "P0001"], params }. */
export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#\/?/, "");
  const [path, search = ""] = text.split("?");
  return { path: path.split("/").filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search) };
}

/** Rewrites the query of the current route without a history entry (zoom, sort, filters). */
export function replaceParams(params) {
  const { path } = parseHash();
  const search = new URLSearchParams(params).toString();
  history.replaceState(null, "", `#/${path.map(encodeURIComponent).join("/")}${search ? `?${search}` : ""}`);
}

export function participantHref(participantId) {
  return `#/participants/${encodeURIComponent(participantId)}`;
}

/** Moves focus to the page's heading (keyboard and screen-reader users land on the new page). */
export function focusHeading(root) {
  const heading = root.querySelector("h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}
