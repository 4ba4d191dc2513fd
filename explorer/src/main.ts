// The explorer's entry point: reads the server's configuration from the page, and
// routes on the URL's fragment (#/entry/12, #/search?hash=...), so it works under any
// path prefix and needs no server-side routing.
import * as api from "./api";
import { entryPage } from "./entry";
import { homePage } from "./home";
import { latestPage, searchPage } from "./search";
import { errorBox, h, loading } from "./ui";
import { v2EntryPage } from "./v2";

function readConfig(): api.Config {
  const el = document.getElementById("explorer-config");
  const c = el?.textContent ? (JSON.parse(el.textContent) as Partial<api.Config>) : {};
  return { apiBase: c.apiBase ?? "", tilePrefix: c.tilePrefix ?? "", v2: c.v2 ?? false,
    explorerBase: c.explorerBase ?? "./", witnesses: c.witnesses ?? [] };
}

/** Whatever is typed in the header's box: an index, a UUID, a hash or an email. */
function go(query: string): void {
  const q = query.trim();
  if (/^[0-9]+$/.test(q)) location.hash = `#/entry/${q}`;
  // 64 hex digits: an entry's UUID, or else (the entry page falls back) an artifact hash.
  else if (/^([0-9a-fA-F]{16})?[0-9a-fA-F]{64}$/.test(q)) location.hash = `#/entry/${q}`;
  else if (/^sha256:[0-9a-fA-F]{64}$/.test(q)) location.hash = `#/search?hash=${encodeURIComponent(q)}`;
  else if (q.includes("@")) location.hash = `#/search?email=${encodeURIComponent(q)}`;
  else location.hash = "#/search";
}

async function route(root: HTMLElement): Promise<void> {
  const [path = "/", query = ""] = (location.hash.replace(/^#/, "") || "/").split("?");
  const params = new URLSearchParams(query);
  const parts = path.split("/").filter(Boolean);
  root.replaceChildren(loading("the log"));
  document.querySelectorAll("header nav a").forEach((a) => {
    const here = (a.getAttribute("href") ?? "").replace(/^#/, "") === `/${parts[0] ?? ""}`.replace(/\/$/, "/");
    if (here) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  });
  const started = performance.now();
  try {
    if (parts[0] === "entry" && parts[1]) await entryPage(root, decodeURIComponent(parts[1]));
    else if (parts[0] === "v2" && parts[1] === "entry" && parts[2]) await v2EntryPage(root, parts[2]);
    else if (parts[0] === "search") searchPage(root, params);
    else if (parts[0] === "latest") await latestPage(root, params);
    else await homePage(root);
  } catch (e) {
    root.replaceChildren(h("h1", null, "Something went wrong"), errorBox((e as Error).message));
  }
  // For people and for the browser tests: when this view finished, and how long it took.
  root.dataset.ready = String(Math.round(performance.now() - started));
  const h1 = root.querySelector("h1");
  document.title = `${h1?.textContent ?? "Explorer"} · rekor-py`;
  h1?.setAttribute("tabindex", "-1");
  h1?.focus({ preventScroll: true });
}

function start(): void {
  api.setConfig(readConfig());
  const root = document.getElementById("main")!;
  const form = document.getElementById("go") as HTMLFormElement;
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    go((form.elements.namedItem("q") as HTMLInputElement).value);
  });
  window.addEventListener("hashchange", () => {
    delete root.dataset.ready;
    void route(root);
  });
  void route(root);
}

start();
