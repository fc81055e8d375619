  // ------------------------------------------------------------- streams

  // A stream's rows, by key, per container (built from its children once, then kept by the ops).
  const streamRows = new WeakMap();

  // The ops of a stream effect, in order: ["r"] removes every row; ["i", key, html, at] shows
  // a row at index `at` (-1: the end), or in place of the row with that key; ["d", key]
  // removes a row. Then `limit` rows at most are kept: the first ones (> 0) or the last (< 0).
  function applyStream(data) {
    const name = data.name, ops = data.ops;
    if (typeof name !== "string" || !Array.isArray(ops)) return;
    const box = document.querySelector('[data-stream="' + CSS.escape(name) + '"]');
    if (!box) {
      console.warn("rweb: no [data-stream] element for stream", name);
      return;
    }
    let rows = streamRows.get(box);
    if (!rows) {
      rows = new Map();
      for (const c of box.children) {
        const k = c.getAttribute("data-key");
        if (k !== null) rows.set(k, c);
      }
      streamRows.set(box, rows);
    }
    // Rows appended one after another (a first page, a reset) are parsed together.
    let batch = [];
    const flush = () => {
      if (!batch.length) return;
      const tpl = document.createElement("template");
      tpl.innerHTML = batch.join("");
      for (const el of Array.from(tpl.content.children)) {
        const k = el.getAttribute("data-key");
        if (k !== null) rows.set(k, el);
      }
      box.appendChild(tpl.content);
      batch = [];
    };
    for (const op of ops) {
      if (!Array.isArray(op)) continue;
      if (op[0] === "i" && typeof op[1] === "string" && typeof op[2] === "string") {
        const key = op[1], at = typeof op[3] === "number" ? op[3] : -1;
        const old = rows.get(key);
        if (!old && at === -1) {
          batch.push(op[2]);
          continue;
        }
        flush();
        const tpl = document.createElement("template");
        tpl.innerHTML = op[2];
        const el = tpl.content.firstElementChild;
        if (!el) continue;
        if (old && old.parentNode === box) {
          rows.set(key, morph(old, el)); // in place: a focused field in the row keeps its text
        } else {
          const before = at >= 0 ? box.children[at] || null : null;
          box.insertBefore(el, before);
          rows.set(key, el);
        }
      } else if (op[0] === "d" && typeof op[1] === "string") {
        flush();
        const old = rows.get(op[1]);
        if (old) {
          rows.delete(op[1]);
          old.remove();
        }
      } else if (op[0] === "r") {
        batch = [];
        rows.clear();
        box.replaceChildren();
      }
    }
    flush();
    const limit = data.limit;
    if (typeof limit === "number" && limit !== 0) {
      while (box.children.length > Math.abs(limit)) {
        const drop = limit > 0 ? box.lastElementChild : box.firstElementChild;
        const k = drop.getAttribute("data-key");
        if (k !== null) rows.delete(k);
        drop.remove();
      }
    }
    emit("rweb:stream", { name, ops: ops.length });
  }

