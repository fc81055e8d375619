# Cython declarations for protocol.py (the compiled build; see setup.py).

cimport cython

# decode()'s fast path: the action frame as the clients write it, read without a JSON
# parser.  Only a narrow subset of JSON is taken (below); for anything else it returns
# None and orjson decides, so what it accepts decodes exactly as orjson would (a test
# checks decode() against the orjson path on generated frames).  Why: orjson.loads allocates
# and frees a parsed document per call, a fixed cost several times this frame's reading
# (benchmarks/server_instructions.py measures a click in the server with and without).
cdef extern from *:
    """
    /* {"action":"A"[,"params":{["K":"V"[,"K":"V"]...]}][,"ref":N]}: no whitespace; A, K and V
       printable ASCII without '"' or a backslash (no escapes); N an integer of at most 15 digits.
       The three heads ({"action":"  ,"params":{  ,"ref":) are given by protocol.py, from its
       table of wire words.  -> a new (action, params, ref) tuple; None (a new reference) for
       anything else; NULL with an exception set only when memory runs out. */
    static inline Py_ssize_t rweb_frame_str_end(const char *p, Py_ssize_t i, Py_ssize_t n) {
        for (; i < n; i++) {
            unsigned char c = (unsigned char)p[i];
            if (c == '"') return i;
            if (c < 0x20 || c > 0x7e || c == '\\\\') return -1;
        }
        return -1;
    }
    /* The frame's short strings (an action's name, a parameter's name, a row's id) come again
       and again: the str made for one is kept (a direct-mapped table of 256, by a hash of its
       bytes) and given again when the same bytes come, with its hash already computed for the
       lookups that follow (the page's actions, the handler's parameters). */
    #define RWEB_FRAME_STRS 256
    #define RWEB_FRAME_STR_MAX 32
    static PyObject *rweb_frame_strs[RWEB_FRAME_STRS];
    static inline PyObject *rweb_frame_str(const char *s, Py_ssize_t n) {
        size_t h = (size_t)n, slot;
        Py_ssize_t k;
        PyObject *u, *old;
        if (n > RWEB_FRAME_STR_MAX) return PyUnicode_DecodeASCII(s, n, NULL);
        for (k = 0; k < n; k++) h = h * 31u + (unsigned char)s[k];
        slot = (h ^ (h >> 8)) & (RWEB_FRAME_STRS - 1);
        u = rweb_frame_strs[slot];
        if (u != NULL && PyUnicode_GET_LENGTH(u) == n && memcmp(PyUnicode_DATA(u), s, (size_t)n) == 0) {
            Py_INCREF(u);
            return u;
        }
        u = PyUnicode_DecodeASCII(s, n, NULL);
        if (u == NULL) return NULL;
        old = rweb_frame_strs[slot];
        Py_INCREF(u);
        rweb_frame_strs[slot] = u;
        Py_XDECREF(old);
        return u;
    }
    static inline PyObject *rweb_frame(PyObject *data, PyObject *action_head, PyObject *params_head, PyObject *ref_head) {
        const char *p;
        Py_ssize_t n, i, j, a_end, k, d, an, pn, rn;
        long long v = 0;
        int neg = 0;
        PyObject *params = NULL, *key = NULL, *value = NULL, *ref = NULL, *action = NULL, *out = NULL;
        if (!PyBytes_CheckExact(data) || !PyBytes_CheckExact(action_head) || !PyBytes_CheckExact(params_head)
                || !PyBytes_CheckExact(ref_head)) Py_RETURN_NONE;
        p = PyBytes_AS_STRING(data);
        n = PyBytes_GET_SIZE(data);
        an = PyBytes_GET_SIZE(action_head);
        pn = PyBytes_GET_SIZE(params_head);
        rn = PyBytes_GET_SIZE(ref_head);
        if (n < an + 2 || memcmp(p, PyBytes_AS_STRING(action_head), an) != 0) Py_RETURN_NONE;
        a_end = rweb_frame_str_end(p, an, n);
        if (a_end < 0) Py_RETURN_NONE;
        i = a_end + 1;
        params = PyDict_New();
        if (params == NULL) return NULL;
        if (n - i >= pn && memcmp(p + i, PyBytes_AS_STRING(params_head), pn) == 0) {
            i += pn;
            if (i < n && p[i] == '}') {
                i++;
            } else {
                for (;;) {
                    if (i >= n || p[i] != '"') goto other;
                    k = i + 1;
                    j = rweb_frame_str_end(p, k, n);
                    if (j < 0 || j + 2 >= n || p[j + 1] != ':' || p[j + 2] != '"') goto other;
                    i = j + 3;
                    j = rweb_frame_str_end(p, i, n);
                    if (j < 0) goto other;
                    key = rweb_frame_str(p + k, i - 3 - k);
                    if (key == NULL) goto fail;
                    value = rweb_frame_str(p + i, j - i);
                    if (value == NULL || PyDict_SetItem(params, key, value) < 0) goto fail;
                    Py_CLEAR(key);
                    Py_CLEAR(value);
                    i = j + 1;
                    if (i < n && p[i] == ',') { i++; continue; }
                    if (i < n && p[i] == '}') { i++; break; }
                    goto other;
                }
            }
        }
        if (n - i >= rn && memcmp(p + i, PyBytes_AS_STRING(ref_head), rn) == 0) {
            i += rn;
            if (i < n && p[i] == '-') { neg = 1; i++; }
            d = i;
            while (i < n && i - d < 16 && p[i] >= '0' && p[i] <= '9') { v = v * 10 + (p[i] - '0'); i++; }
            if (i == d || i - d > 15 || (p[d] == '0' && i - d > 1)) goto other;
            ref = PyLong_FromLongLong(neg ? -v : v);
            if (ref == NULL) goto fail;
        } else {
            ref = Py_None;
            Py_INCREF(ref);
        }
        if (i != n - 1 || p[i] != '}') goto other;
        action = rweb_frame_str(p + an, a_end - an);
        if (action == NULL) goto fail;
        out = PyTuple_Pack(3, action, params, ref);
        Py_DECREF(action);
        Py_DECREF(params);
        Py_DECREF(ref);
        return out;
    other:
        Py_XDECREF(params);
        Py_XDECREF(ref);
        Py_RETURN_NONE;
    fail:
        Py_XDECREF(key);
        Py_XDECREF(value);
        Py_XDECREF(params);
        Py_XDECREF(ref);
        return NULL;
    }
    """
    object _frame "rweb_frame" (object data, object action_head, object params_head, object ref_head)

# encode_reply()'s and encode_push()'s fast path: a patch of components' slots that are all
# strings ({"id": {"slot": "text", ...}, ...}), written straight into bytes of the exact size,
# escaped as orjson escapes (a test compares the bytes).  None: another shape (lists, statics,
# numbers, a string with a lone surrogate...): orjson writes it.  Why: orjson.dumps starts
# every message in a 1 KiB buffer from malloc, a fixed cost larger than writing a click's reply.
cdef extern from *:
    """
    /* The UTF-8 of a str, or NULL (and no exception): not UTF-8 encodable (a lone surrogate). */
    static inline const unsigned char *rweb_json_utf8(PyObject *s, Py_ssize_t *size) {
        const char *u;
        if (PyUnicode_IS_COMPACT_ASCII(s)) {
            *size = PyUnicode_GET_LENGTH(s);
            return (const unsigned char *)PyUnicode_DATA(s);
        }
        u = PyUnicode_AsUTF8AndSize(s, size);
        if (u == NULL) PyErr_Clear();
        return (const unsigned char *)u;
    }
    /* The size of a str written as a JSON string, quotes included; -1: not writable here. */
    static inline Py_ssize_t rweb_json_str_size(PyObject *s) {
        Py_ssize_t n, i, size;
        const unsigned char *u;
        if (!PyUnicode_CheckExact(s)) return -1;
        u = rweb_json_utf8(s, &n);
        if (u == NULL) return -1;
        size = n + 2;
        for (i = 0; i < n; i++) {
            unsigned char c = u[i];
            if (c < 0x20) size += (c == 8 || c == 9 || c == 10 || c == 12 || c == 13) ? 1 : 5;
            else if (c == '"' || c == '\\\\') size += 1;
        }
        return size;
    }
    /* Write an exact str as orjson writes it; NULL (and no exception) when it is not UTF-8
       encodable (measured by rweb_json_str_size first, it is). */
    static inline char *rweb_json_str(char *w, PyObject *s) {
        static const char hex[] = "0123456789abcdef";
        Py_ssize_t n, i;
        const unsigned char *u = rweb_json_utf8(s, &n);
        if (u == NULL) return NULL;
        *w++ = '"';
        for (i = 0; i < n; i++) {
            unsigned char c = u[i];
            if (c >= 0x20 && c != '"' && c != '\\\\') { *w++ = (char)c; continue; }
            *w++ = '\\\\';
            switch (c) {
                case '"': *w++ = '"'; break;
                case '\\\\': *w++ = '\\\\'; break;
                case 8: *w++ = 'b'; break;
                case 9: *w++ = 't'; break;
                case 10: *w++ = 'n'; break;
                case 12: *w++ = 'f'; break;
                case 13: *w++ = 'r'; break;
                default: *w++ = 'u'; *w++ = '0'; *w++ = '0'; *w++ = hex[c >> 4]; *w++ = hex[c & 15];
            }
        }
        *w++ = '"';
        return w;
    }
    /* head + {"id":{"slot":"text",...},...} [+ ref_key + ref] + "}" written at w, its strings as
       orjson writes them; the end, or NULL (no exception) when a string is not UTF-8 encodable,
       the ref is an integer past 64 bits, the patch is of another shape (checked here: not a str,
       not a dict), or, with an end (not NULL), the patch may not fit before it: each string is
       bounded before it is written (a character takes at most 6 bytes, \\u00XX; UTF-8 at most 4). */
    #define RWEB_ROOM(k) (end == NULL || end - w >= (Py_ssize_t)(k))
    static inline char *rweb_patch_write(char *w, char *end, PyObject *head, PyObject *patches, PyObject *ref_key,
                                         PyObject *ref) {
        Py_ssize_t pos = 0, pos2;
        PyObject *id, *slots, *slot, *text;
        if (!RWEB_ROOM(PyBytes_GET_SIZE(head) + 1)) return NULL;
        memcpy(w, PyBytes_AS_STRING(head), PyBytes_GET_SIZE(head));
        w += PyBytes_GET_SIZE(head);
        *w++ = '{';
        while (PyDict_Next(patches, &pos, &id, &slots)) {
            if (!PyUnicode_CheckExact(id) || !PyDict_CheckExact(slots)) return NULL;
            if (!RWEB_ROOM(6 * PyUnicode_GET_LENGTH(id) + 6)) return NULL;  /* quotes, a comma, :{} */
            if (w[-1] != '{') *w++ = ',';
            if ((w = rweb_json_str(w, id)) == NULL) return NULL;
            *w++ = ':';
            *w++ = '{';
            pos2 = 0;
            while (PyDict_Next(slots, &pos2, &slot, &text)) {
                if (!PyUnicode_CheckExact(slot) || !PyUnicode_CheckExact(text)) return NULL;
                if (!RWEB_ROOM(6 * (PyUnicode_GET_LENGTH(slot) + PyUnicode_GET_LENGTH(text)) + 6)) return NULL;
                if (w[-1] != '{') *w++ = ',';
                if ((w = rweb_json_str(w, slot)) == NULL) return NULL;
                *w++ = ':';
                if ((w = rweb_json_str(w, text)) == NULL) return NULL;
            }
            *w++ = '}';
        }
        if (!RWEB_ROOM(2 + PyBytes_GET_SIZE(ref_key) + 24 + (PyUnicode_CheckExact(ref) ? 6 * PyUnicode_GET_LENGTH(ref) + 2 : 0)))
            return NULL;  /* }, the ref's key and value (a number: at most 20 digits), } */
        *w++ = '}';
        if (ref != Py_None) {
            memcpy(w, PyBytes_AS_STRING(ref_key), PyBytes_GET_SIZE(ref_key));
            w += PyBytes_GET_SIZE(ref_key);
            if (PyLong_CheckExact(ref)) {
                char num[24];
                int overflow = 0, rn;
                long long r = PyLong_AsLongLongAndOverflow(ref, &overflow);
                if (overflow || (r == -1 && PyErr_Occurred())) { PyErr_Clear(); return NULL; }
                rn = snprintf(num, sizeof num, "%lld", r);
                memcpy(w, num, rn);
                w += rn;
            } else if (!PyUnicode_CheckExact(ref) || (w = rweb_json_str(w, ref)) == NULL) {
                return NULL;
            }
        }
        *w++ = '}';
        return w;
    }
    /* The common patch, written in one pass into a buffer on the stack: no pass measuring every
       string first.  None (a new reference) for another shape or a patch that may not fit. */
    #define RWEB_PATCH_BUF 2048
    static inline PyObject *rweb_patch_small(PyObject *head, PyObject *patches, PyObject *ref_key, PyObject *ref) {
        char buf[RWEB_PATCH_BUF];
        char *w = rweb_patch_write(buf, buf + RWEB_PATCH_BUF, head, patches, ref_key, ref);
        if (w == NULL) Py_RETURN_NONE;
        return PyBytes_FromStringAndSize(buf, w - buf);
    }
    /* head + {"id":{"slot":"text",...},...} [+ ref_key + ref] + "}" as new bytes; None (a new
       reference) for another shape; NULL with an exception only when memory runs out.  Small:
       in one pass (rweb_patch_small); larger: measured, then written into bytes of the exact size. */
    static inline PyObject *rweb_patch(PyObject *head, PyObject *patches, PyObject *ref_key, PyObject *ref) {
        Py_ssize_t size, pos = 0, pos2, s, hn, rn = 0;
        PyObject *id, *slots, *slot, *text, *out;
        long long r = 0;
        int overflow = 0;
        char num[24];
        char *w;
        if (!PyBytes_CheckExact(head) || !PyBytes_CheckExact(ref_key) || !PyDict_CheckExact(patches)) Py_RETURN_NONE;
        out = rweb_patch_small(head, patches, ref_key, ref);
        if (out != Py_None) return out;  /* (NULL too: out of memory) */
        Py_DECREF(out);
        hn = PyBytes_GET_SIZE(head);
        size = hn + 3;  /* {} and the closing } */
        while (PyDict_Next(patches, &pos, &id, &slots)) {
            if (!PyDict_CheckExact(slots) || (s = rweb_json_str_size(id)) < 0) Py_RETURN_NONE;
            size += s + 3 + (size > hn + 3);  /* :{} and a comma after the first */
            pos2 = 0;
            s = size;
            while (PyDict_Next(slots, &pos2, &slot, &text)) {
                Py_ssize_t a = rweb_json_str_size(slot), b = rweb_json_str_size(text);
                if (a < 0 || b < 0) Py_RETURN_NONE;
                size += a + b + 1 + (size > s);  /* : and a comma after the first */
            }
        }
        if (ref != Py_None) {
            if (PyLong_CheckExact(ref)) {
                r = PyLong_AsLongLongAndOverflow(ref, &overflow);
                if (overflow || (r == -1 && PyErr_Occurred())) { PyErr_Clear(); Py_RETURN_NONE; }
                rn = snprintf(num, sizeof num, "%lld", r);
            } else if ((rn = rweb_json_str_size(ref)) < 0) {
                Py_RETURN_NONE;
            }
            size += PyBytes_GET_SIZE(ref_key) + rn;
        }
        out = PyBytes_FromStringAndSize(NULL, size);
        if (out == NULL) return NULL;
        w = rweb_patch_write(PyBytes_AS_STRING(out), NULL, head, patches, ref_key, ref);
        if (w == NULL || w - PyBytes_AS_STRING(out) != size) {  /* cannot happen: the two passes agree */
            Py_DECREF(out);
            PyErr_SetString(PyExc_AssertionError, "rweb_patch: size mismatch");
            return NULL;
        }
        return out;
    }
    """
    object _patch "rweb_patch" (object head, object patches, object ref_key, object ref)

cpdef tuple decode(object data)
@cython.locals(msg=dict)
cpdef tuple _decode_json(object data)
cpdef object _fast_frame(object data)
cpdef bytes encode_reply(dict patches, object ref=*, object error=*, object effects=*)
cpdef bytes _reply_json(dict patches, object ref=*, object error=*, object effects=*)
cpdef bytes encode_push(object patches, object error=*, object effects=*)
cpdef bytes _push_json(object patches, object error=*, object effects=*)
cpdef object _fast_patch(bytes head, object patches, object ref)
