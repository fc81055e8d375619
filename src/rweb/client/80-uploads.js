/* Uploads.
 *
 *   data-upload="name"     on <input type=file> (conn.allow_upload): a submit of its form uploads the
 *                          files over the socket first ({"t": "upload", ...}, then binary frames:
 *                          0x01, the file id on 4 bytes, a chunk), then sends the action with the ids
 *                          in the field; the input carries data-progress meanwhile; with
 *                          data-upload-auto it uploads as soon as files are chosen
 *   data-upload-cancel="n" click: stop upload n, clear its input, the server drops its files
 */

  // ------------------------------------------------------------- uploads

  // A file input with data-upload="name" (conn.allow_upload) sends its files over the socket
  // (docs/uploads.md): {"t": "upload", name, files, ref} declares them; the reply's "up"
  // gives their ids and the chunk size; each file then goes as binary frames (0x01, the id
  // on 4 bytes, a chunk), paced by the socket's bufferedAmount. The form's action follows,
  // with the ids in the upload's field. Progress shows through the server's renders; the
  // input carries data-progress (0-100, of what went out) meanwhile.
  const UPLOAD_HIGH = 1024 * 1024; // bytes queued in the socket above which sending waits
  const UPLOADS = "input[type=file][data-upload]";
  const uploads = new Map(); // input -> {sig, promise of {ok, ids}, cancelled, progress}

  const fileSig = (input) =>
    Array.from(input.files || [], (f) => f.name + "\u0000" + f.size + "\u0000" + f.lastModified).join("\u0001");

  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // A control message with a ref: a promise of its reply (null if the socket went first).
  function control(msg) {
    if (!live()) return Promise.resolve(null);
    const r = ++ref, s = sock;
    return new Promise((resolve) => {
      pending.set(r, resolve);
      try {
        s.send(JSON.stringify(Object.assign(msg, { ref: r })));
      } catch {
        pending.delete(r);
        resolve(null);
      }
    });
  }

  // Upload the files chosen in `input` (once per choice: a submit during the upload waits for
  // it). Resolves with {ok, ids, reason}.
  function upload(input) {
    const sig = fileSig(input);
    const was = uploads.get(input);
    if (was && was.sig === sig && !was.cancelled) return was.promise;
    if (was) was.cancelled = true; // another choice replaces it (so does the server)
    const rec = { sig, promise: null, cancelled: false, progress: 0 };
    uploads.set(input, rec);
    rec.promise = sendUpload(input, rec).then((res) => {
      if (uploads.get(input) === rec) {
        if (!res.ok) uploads.delete(input);
        input.removeAttribute("data-progress");
      }
      emit("rweb:upload", { name: input.getAttribute("data-upload"), input, ok: res.ok, reason: res.reason || null });
      return res;
    });
    return rec.promise;
  }

  async function sendUpload(input, rec) {
    const name = input.getAttribute("data-upload");
    const files = Array.from(input.files || []);
    const s = sock;
    const reply = await control({
      t: T.UPLOAD, name, files: files.map((f) => ({ name: f.name, size: f.size, type: f.type || "" })),
    });
    if (!reply) return { ok: false, reason: "disconnected" };
    if (reply.e || !reply.up) return { ok: false, reason: reply.e ? reply.e.code : "refused" };
    if (rec.cancelled) return { ok: false, reason: "cancelled" };
    const { ids, chunk } = reply.up;
    let total = 0, sent = 0;
    for (const f of files) total += f.size;
    setProgress(input, rec, 0);
    for (let i = 0; i < files.length; i++) {
      const f = files[i];
      for (let at = 0; at < f.size; at += chunk) {
        while (sock === s && !rec.cancelled && s.bufferedAmount > UPLOAD_HIGH) await pause(5);
        if (sock !== s || !connected) return { ok: false, reason: "disconnected" };
        if (rec.cancelled) return { ok: false, reason: "cancelled" };
        const buf = await f.slice(at, at + chunk).arrayBuffer();
        if (sock !== s || !connected) return { ok: false, reason: "disconnected" };
        if (rec.cancelled) return { ok: false, reason: "cancelled" };
        const frame = new Uint8Array(5 + buf.byteLength);
        frame[0] = 1;
        new DataView(frame.buffer).setUint32(1, ids[i]);
        frame.set(new Uint8Array(buf), 5);
        try {
          s.send(frame);
        } catch {
          return { ok: false, reason: "disconnected" };
        }
        sent += buf.byteLength;
        setProgress(input, rec, Math.floor((sent * 100) / total));
      }
    }
    return { ok: true, ids };
  }

  function setProgress(input, rec, p) {
    rec.progress = p;
    if (input.getAttribute("data-progress") !== String(p)) input.setAttribute("data-progress", String(p));
  }

  // A morph syncs the attributes with the server's markup: put the uploads' progress back.
  function reprogress() {
    for (const [input, rec] of uploads) {
      if (input.isConnected && !rec.cancelled && input.hasAttribute("data-upload") &&
          !input.hasAttribute("data-progress") && rec.progress < 100) {
        input.setAttribute("data-progress", String(rec.progress));
      }
    }
  }

  // The server dropped upload `name` (cancelled by the app, or more bytes than declared):
  // stop sending its chunks; the file stays chosen, for the user to try again.
  function stopUploads(name) {
    for (const [input, rec] of Array.from(uploads)) {
      if (input.getAttribute("data-upload") !== name) continue;
      rec.cancelled = true;
      uploads.delete(input);
      input.removeAttribute("data-progress");
    }
  }

  // data-upload-cancel="name": stop sending, forget the choice, and the server drops the files.
  function cancelUpload(name) {
    stopUploads(name);
    for (const input of document.querySelectorAll(UPLOADS)) {
      if (input.getAttribute("data-upload") === name) input.value = "";
    }
    return control({ t: T.UPLOAD_CANCEL, name });
  }

  // A submit of a form with files chosen in its upload inputs: upload them, then send the
  // action (the form carries rweb-loading meanwhile); a refused, cancelled or interrupted
  // upload sends nothing (the page shows why: the server renders it).
  function submitWithUploads(form, inputs, action, params, opts) {
    count(loading, form, "rweb-loading");
    const submitter = opts.submitter && opts.submitter !== form ? opts.submitter : null;
    if (submitter) count(loading, submitter, "rweb-loading");
    const done = () => {
      uncount(loading, form, "rweb-loading");
      if (submitter) uncount(loading, submitter, "rweb-loading");
    };
    const promises = inputs.map(upload);
    const recs = inputs.map((input) => uploads.get(input));
    return Promise.all(promises).then((results) => {
      if (!results.every((r) => r.ok)) {
        done();
        return null;
      }
      inputs.forEach((input, i) => { params[input.name || input.getAttribute("data-upload")] = results[i].ids; });
      const reply = send(action, params, form, null, opts);
      done();
      // The files went with this action: a later submit uploads the choice again.
      inputs.forEach((input, i) => { if (uploads.get(input) === recs[i]) uploads.delete(input); });
      return reply.then((msg) => {
        // Answered without an error: the choice is cleared (unless the user chose again meanwhile).
        if (msg && !msg.e) inputs.forEach((input, i) => { if (fileSig(input) === recs[i].sig) input.value = ""; });
        return msg;
      });
    });
  }

