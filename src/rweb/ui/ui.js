/* rweb.ui: the kit's behaviour, as rweb.js client hooks (docs/hooks.md); the server's
 * markup drives them through data-hook and JS commands (ui:open / ui:close events).
 *   UiTheme   the theme switch: system -> light -> dark, kept in the rweb_theme cookie
 *   UiModal   <dialog>: showModal on ui:open (or when rendered open), Tab kept inside,
 *             Escape closes (the browser's), focus back to the opener, data-ui-on-close
 *   UiTabs    roving tabindex, Left/Right/Home/End, data-ui-on-change
 *   UiToasts  Escape in a toast dismisses it; focus moves on to the next toast (ui.flash's too)
 * <html> gets the class ui-js (the stylesheet shows what needs a script only then). */
(() => {
  "use strict";
  const doc = document, root = doc.documentElement;
  root.classList.add("ui-js");

  // -- theme
  const COOKIE = "rweb_theme", THEMES = ["", "light", "dark"], NAMES = ["System", "Light", "Dark"];
  const chosen = () => (doc.cookie.match(/(?:^|;\s*)rweb_theme=(light|dark)(?:;|$)/) || [])[1] || "";
  // data-theme="" (the system's) still tells the stylesheet that the script decides, not the shell's
  // data-ui-theme (the server's paint from the cookie, for the first paint only).
  const applyTheme = (t) => root.setAttribute("data-theme", t);
  applyTheme(chosen());

  function themeLabel(inst) {
    const span = inst.el.querySelector(".ui-theme-label");
    if (!span) return;
    if (inst.base === undefined) inst.base = span.textContent;
    span.textContent = inst.base + ": " + NAMES[THEMES.indexOf(chosen())];
  }

  const UiTheme = {
    mounted() {
      themeLabel(this);
      this.el.addEventListener("click", () => {
        const t = THEMES[(THEMES.indexOf(chosen()) + 1) % THEMES.length];
        const path = (window.rweb && window.rweb.root) || "/";
        doc.cookie = COOKIE + "=" + (t || "x") + "; path=" + path + "; SameSite=Lax; max-age=" + (t ? 31536000 : 0);
        applyTheme(t);
        themeLabel(this);
      });
    },
    updated() { themeLabel(this); },
  };

  // -- modal
  const FOCUSABLE = "a[href],button:not([disabled]),input:not([disabled]):not([type=hidden]),select:not([disabled])," +
    "textarea:not([disabled]),[tabindex]:not([tabindex='-1'])";
  const focusables = (el) => Array.from(el.querySelectorAll(FOCUSABLE)).filter((x) => x.getClientRects().length);

  function showModal(inst) {
    const d = inst.el;
    if (d.open && d.matches(":modal")) return;
    if (!inst.opener) inst.opener = doc.activeElement;
    if (d.open) d.close(); // rendered open (no script yet): shown in place, not modal
    d.showModal();
    const first = d.querySelector("[autofocus]") || focusables(d.querySelector(".ui-modal-body") || d)[0];
    if (first) first.focus();
  }

  const UiModal = {
    mounted() {
      const d = this.el;
      d.addEventListener("ui:open", () => showModal(this));
      d.addEventListener("ui:close", () => d.close());
      d.addEventListener("close", () => {
        if (d.open) return; // closed to be shown again as a modal
        const opener = this.opener;
        this.opener = null;
        if (opener && opener.isConnected && typeof opener.focus === "function") opener.focus();
        const action = d.getAttribute("data-ui-on-close");
        if (action) this.pushEvent(action, { id: d.id });
      });
      d.addEventListener("keydown", (e) => {
        if (e.key !== "Tab") return;
        const all = focusables(d);
        if (!all.length) return;
        const first = all[0], last = all[all.length - 1], at = doc.activeElement;
        if (e.shiftKey ? at === first || !d.contains(at) : at === last) {
          e.preventDefault();
          (e.shiftKey ? last : first).focus();
        }
      });
      if (d.open) showModal(this);
    },
    // The server rendered it open. One the browser shows stays so, focus and all, whatever the
    // server renders: the morph keeps a modal <dialog>'s open attribute.
    updated() { if (this.el.open) showModal(this); },
  };

  // -- tabs
  const tabsOf = (el) => Array.from(el.querySelectorAll(":scope > [role=tablist] > [role=tab]"));
  const rendered = (el) => tabsOf(el).findIndex((t) => t.getAttribute("aria-selected") === "true");

  function select(inst, i, byUser) {
    const tabs = tabsOf(inst.el);
    if (!tabs[i]) return;
    tabs.forEach((t, k) => {
      t.setAttribute("aria-selected", String(k === i));
      t.tabIndex = k === i ? 0 : -1;
      const panel = doc.getElementById(t.getAttribute("aria-controls"));
      if (panel) panel.hidden = k !== i;
    });
    if (byUser) {
      tabs[i].focus();
      const action = inst.el.getAttribute("data-ui-on-change");
      if (action && i !== inst.sel) inst.pushEvent(action, { index: i });
    }
    inst.sel = i;
  }

  const KEYS = { ArrowRight: 1, ArrowLeft: -1, Home: "first", End: "last" };
  const UiTabs = {
    mounted() {
      const el = this.el;
      this.sel = this.server = rendered(el);
      el.addEventListener("click", (e) => {
        const t = e.target.closest("[role=tab]");
        const i = t ? tabsOf(el).indexOf(t) : -1;
        if (i >= 0) select(this, i, true);
      });
      el.addEventListener("keydown", (e) => {
        const move = KEYS[e.key], tabs = tabsOf(el), i = tabs.indexOf(e.target);
        if (move === undefined || i < 0) return;
        e.preventDefault();
        const n = tabs.length;
        select(this, move === "first" ? 0 : move === "last" ? n - 1 : (i + move + n) % n, true);
      });
    },
    // The server's selection wins when it changed it; else the visitor's stays.
    updated() {
      const now = rendered(this.el);
      if (now !== this.server) this.sel = this.server = now;
      select(this, this.sel, false);
    },
  };

  // -- toasts
  const UiToasts = {
    mounted() {
      const el = this.el;
      el.addEventListener("keydown", (e) => {
        const t = e.key === "Escape" && e.target.closest(".ui-toast");
        const b = t && t.querySelector("button");
        if (b) { e.preventDefault(); b.click(); }
      });
      el.addEventListener("click", (e) => {
        const t = e.target.closest(".ui-toast");
        if (t && e.target.closest("button")) this.leaving = Array.from(el.querySelectorAll(".ui-toast")).indexOf(t);
      });
    },
    updated() { // the toast dismissed from the keyboard is gone: focus goes on to its neighbour
      const i = this.leaving;
      this.leaving = undefined;
      if (i === undefined || (doc.activeElement && doc.activeElement !== doc.body)) return;
      const toasts = this.el.querySelectorAll(".ui-toast"), next = toasts[Math.min(i, toasts.length - 1)];
      const b = next && next.querySelector("button");
      if (b) b.focus();
    },
  };

  const defs = { UiTheme, UiModal, UiTabs, UiToasts };
  if (window.rweb) for (const name in defs) window.rweb.hook(name, defs[name]);
  else window.rwebHooks = Object.assign(window.rwebHooks || {}, defs);
  // A page without rweb.js (a plain handler's): the hooks mount once, and send nothing.
  doc.addEventListener("DOMContentLoaded", () => {
    if (window.rweb) return;
    for (const el of doc.querySelectorAll("[data-hook^=Ui]")) {
      const def = defs[el.getAttribute("data-hook")];
      if (def) def.mounted.call({ el, pushEvent() {} });
    }
  });
})();
