/*
 * Optional C speedups for JT/T 808 framing: un-escape + check-code verification,
 * and check-code + escape, each in one pass over the frame.
 *
 * Why by hand: the XOR check code is a per-byte loop that costs about 1 us per
 * 0x0200 frame in CPython (a third of a full decode) and no maintained library
 * computes it. framing.py holds the reference implementation and is used when
 * this module is not built; the tests run both against each other.
 *
 * unwrap(frame, verify) -> bytes (header+body) on success, None on any error
 * (the caller re-runs the Python implementation to raise the typed error).
 *
 * scan_items(buf, pos, end, table, items) walks 0x0200 additional items: scalar
 * items whose length matches the table (declared in extras.py) are stored in
 * `items` as int, or float when the table gives a divisor; every other item is
 * returned as (id, start, end) for Python to decode. Returns (others, tail).
 * Same rules as extras.Extras.decode, which is the reference.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
unwrap(PyObject *self, PyObject *args)
{
    Py_buffer view;
    int verify = 1;
    if (!PyArg_ParseTuple(args, "y*|p", &view, &verify))
        return NULL;
    const unsigned char *p = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len;
    if (n > 0 && p[0] == 0x7e) { p++; n--; }
    if (n > 0 && p[n - 1] == 0x7e) { n--; }
    if (n <= 0) { PyBuffer_Release(&view); Py_RETURN_NONE; }

    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL) { PyBuffer_Release(&view); return NULL; }
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t j = 0;
    unsigned char x = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == 0x7d) {
            if (i + 1 < n) {
                unsigned char d = p[i + 1];
                if (d == 0x01) c = 0x7d;
                else if (d == 0x02) c = 0x7e;
                else goto fail;
                i++;
            } /* else: a lone 0x7D as the last byte is taken literally (see framing.py) */
        } else if (c == 0x7e) {
            goto fail;
        }
        o[j++] = c;
        x ^= c;
    }
    PyBuffer_Release(&view);
    if (j < 1) { Py_DECREF(out); Py_RETURN_NONE; }
    /* x now includes the check byte itself: content XOR check == 0 when valid. */
    if (verify && x != 0) { Py_DECREF(out); Py_RETURN_NONE; }
    if (_PyBytes_Resize(&out, j - 1) < 0) return NULL;
    return out;
fail:
    PyBuffer_Release(&view);
    Py_DECREF(out);
    Py_RETURN_NONE;
}

static PyObject *
wrap(PyObject *self, PyObject *args)
{
    Py_buffer view;
    if (!PyArg_ParseTuple(args, "y*", &view))
        return NULL;
    const unsigned char *p = (const unsigned char *)view.buf;
    Py_ssize_t n = view.len;
    PyObject *out = PyBytes_FromStringAndSize(NULL, 2 * (n + 1) + 2);
    if (out == NULL) { PyBuffer_Release(&view); return NULL; }
    unsigned char *o = (unsigned char *)PyBytes_AS_STRING(out);
    Py_ssize_t j = 0;
    unsigned char x = 0;
    o[j++] = 0x7e;
    for (Py_ssize_t i = 0; i <= n; i++) {
        unsigned char c;
        if (i < n) { c = p[i]; x ^= c; } else { c = x; }
        if (c == 0x7e) { o[j++] = 0x7d; o[j++] = 0x02; }
        else if (c == 0x7d) { o[j++] = 0x7d; o[j++] = 0x01; }
        else o[j++] = c;
    }
    o[j++] = 0x7e;
    PyBuffer_Release(&view);
    if (_PyBytes_Resize(&out, j) < 0) return NULL;
    return out;
}

static PyObject *
scan_items(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, end;
    PyObject *table, *items;
    if (!PyArg_ParseTuple(args, "y*nnO!O", &view, &pos, &end, &PyTuple_Type, &table, &items))
        return NULL;
    if (PyTuple_GET_SIZE(table) != 256 || !PyDict_Check(items) || end > view.len || pos < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "scan_items: bad arguments");
        return NULL;
    }
    const unsigned char *b = (const unsigned char *)view.buf;
    PyObject *others = PyList_New(0);
    PyObject *tail = NULL;
    Py_ssize_t tail_start = -1;
    PyObject *dups = NULL; /* bytes of repeated items, in wire order */
    if (others == NULL) goto error;
    while (pos < end) {
        if (pos + 2 > end) { tail_start = pos; break; }
        unsigned int iid = b[pos];
        Py_ssize_t start = pos + 2, nxt = start + b[pos + 1];
        if (nxt > end) { tail_start = pos; break; }
        PyObject *key = PyLong_FromLong((long)iid);
        if (key == NULL) goto error;
        int present = PyDict_Contains(items, key);
        if (present < 0) { Py_DECREF(key); goto error; }
        if (present) {
            PyObject *chunk = PyBytes_FromStringAndSize((const char *)b + pos, nxt - pos);
            if (chunk == NULL) { Py_DECREF(key); goto error; }
            if (dups == NULL) dups = chunk;
            else { PyBytes_ConcatAndDel(&dups, chunk); if (dups == NULL) { Py_DECREF(key); goto error; } }
            Py_DECREF(key);
            pos = nxt;
            continue;
        }
        PyObject *spec = PyTuple_GET_ITEM(table, iid);
        Py_ssize_t len = nxt - start;
        long size = -1, divisor = 1;
        if (spec != Py_None) {
            size = PyLong_AsLong(PyTuple_GET_ITEM(spec, 0));
            divisor = PyLong_AsLong(PyTuple_GET_ITEM(spec, 1));
        }
        if (size == len && (size == 1 || size == 2 || size == 4)) {
            unsigned long v = 0;
            for (Py_ssize_t i = start; i < nxt; i++) v = (v << 8) | b[i];
            PyObject *val = divisor == 1 ? PyLong_FromUnsignedLong(v) : PyFloat_FromDouble((double)v / (double)divisor);
            if (val == NULL || PyDict_SetItem(items, key, val) < 0) { Py_XDECREF(val); Py_DECREF(key); goto error; }
            Py_DECREF(val);
        } else {
            /* Placeholder keeps wire order in the dict; Python replaces it. */
            if (PyDict_SetItem(items, key, Py_None) < 0) { Py_DECREF(key); goto error; }
            PyObject *t = Py_BuildValue("(inn)", (int)iid, start, nxt);
            if (t == NULL || PyList_Append(others, t) < 0) { Py_XDECREF(t); Py_DECREF(key); goto error; }
            Py_DECREF(t);
        }
        Py_DECREF(key);
        pos = nxt;
    }
    if (dups == NULL) { dups = PyBytes_FromStringAndSize(NULL, 0); if (dups == NULL) goto error; }
    if (tail_start >= 0) {
        PyObject *rest = PyBytes_FromStringAndSize((const char *)b + tail_start, end - tail_start);
        if (rest == NULL) goto error;
        PyBytes_ConcatAndDel(&dups, rest);
        if (dups == NULL) goto error;
    }
    tail = dups;
    PyBuffer_Release(&view);
    PyObject *res = PyTuple_Pack(2, others, tail);
    Py_DECREF(others);
    Py_DECREF(tail);
    return res;
error:
    PyBuffer_Release(&view);
    Py_XDECREF(others);
    Py_XDECREF(dups);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan_items", scan_items, METH_VARARGS, "Walk 0x0200 additional items; scalars decoded in place."},
    {"unwrap", unwrap, METH_VARARGS, "Un-escape a frame and verify its check code; None on error."},
    {"wrap", wrap, METH_VARARGS, "Append the check code, escape, add both flags."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", NULL, -1, methods};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
