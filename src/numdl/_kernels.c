/* numdl._kernels: the max-shift kernels of numdl.stable for NumPy float32/float64 rows, compiled.
 *
 * The same method as the pure-NumPy kernel in stable.py (which stays, and is tested, for every
 * platform where this module does not build): a = max x at index k, the shift x - a carried with
 * its rounding error (TwoSum) into exp, exp(x - a) computed as a double-double hi + lo, the sum
 * split into a part on the grid 2**-26 (exact) and a small remainder, and outputs rounded once.
 * Here one pass over a block of 256 elements does what NumPy does in ~20 passes over a buffer,
 * and exp is evaluated to 2**-58 (NumPy's float64 exp to ~0.5 ULP), so accuracy only improves.
 *
 * Every entry point takes C-contiguous buffers (the buffer protocol: no NumPy headers), checks
 * their sizes, and releases the GIL: numdl.stable splits large inputs between threads.
 * Three builds of the kernels are compiled on x86-64 with GCC (baseline SSE2, AVX2+FMA, AVX-512,
 * through #pragma GCC target) and one is chosen at import from what the CPU supports; with other
 * compilers and on other CPUs only the baseline one.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "_exp_table.h"

#define BLOCK 256
#define KEEP_MAX (1 << 17)          /* rows up to this long keep their float32 softmax terms */
#define CHUNK 8192                  /* elements of a long row kept in cache between two passes */
#define LANES2 16                   /* partial sums per block, combined pairwise */
#define LOW (-650.0)                /* exp(LOW) ~ 2**-937: below it, terms leave the sums */
#define FIXED (1.5 * 67108864.0)    /* 1.5 * 2**26: x + FIXED - FIXED rounds x to 2**-26 */
#define SPLITTER 134217729.0        /* 2**27 + 1 (Dekker) */
#define SHIFT 0x1.8p52              /* z + SHIFT - SHIFT rounds z to an integer */
#define C3 (1.0 / 6.0)
#define C4 (1.0 / 24.0)
#define C5 (1.0 / 120.0)

#define KIND_STATS 0
#define KIND_SOFTMAX 1
#define KIND_LOG_SOFTMAX 2

static inline double as_double(uint64_t b)
{
    double d;
    memcpy(&d, &b, sizeof d);
    return d;
}

static inline uint64_t as_u64(double d)
{
    uint64_t b;
    memcpy(&b, &d, sizeof b);
    return b;
}

typedef struct {
    double hi, lo;
} dd;

struct kernels {
    Py_ssize_t (*argmax)(const char *, int, Py_ssize_t);
    void (*sums)(const char *, int, Py_ssize_t, double, uint64_t, double *, double *, double *,
                 double *);
    void (*outputs)(const char *, int, Py_ssize_t, double, int, double, double, double, char *);
    void (*scale_store)(const double *, Py_ssize_t, double, float *);
};

#define VARIANT generic
#define USE_FMA 0
#include "_kernels_impl.h"
#undef VARIANT
#undef USE_FMA

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define HAVE_X86_VARIANTS 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define VARIANT avx2
#define USE_FMA 1
#include "_kernels_impl.h"
#undef VARIANT
#undef USE_FMA
#pragma GCC pop_options

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512vl,avx2,fma,prefer-vector-width=512")
#define VARIANT avx512
#define USE_FMA 1
#include "_kernels_impl.h"
#undef VARIANT
#undef USE_FMA
#pragma GCC pop_options
#endif

static const struct kernels *K = &table_generic;
static const char *variant_name = "generic";

/* Below this, s = sum_{j != k} exp(x_j - a) may be made of the terms that the first pass left
 * out: it is summed again, scaled by 2**200. */
#define TINY_SUM 0x1p-800
#define BIAS 200

/* s for a row whose other terms are all tiny: sum exp(x - a) 2**200 (the maximum's term is
 * 2**200 exactly), less 2**200, scaled back with one rounding (s may be subnormal). */
static double tiny_sum(const char *row, int f32, Py_ssize_t n, double a)
{
    double hh = 0.0, hl = 0.0, w = 0.0;
    K->sums(row, f32, n, a, BIAS, &hh, &hl, &w, NULL);
    return ((hh - 0x1p200) + (hl + w)) * 0x1p-200;
}

/* 1/S = rh + rl for S = s_hi + s_lo (s_hi >= 1, |s_lo| small), to ~2**-100; L = log1p(s). */
static void row_constants(double s_hi, double s_lo, double s, double *rh, double *rl, double *L)
{
    double t = s_hi + s_lo; /* renormalize: FastTwoSum, |s_hi| >= |s_lo| */
    double tl = s_lo - (t - s_hi);
    double h = 1.0 / t;
    double p = h * t;
    double pe = two_prod_err_generic(h, t, p);
    *rh = h;
    *rl = (((1.0 - p) - pe) - h * tl) / t;
    *L = log1p(s);
}

/* The buffer holds `count` items of `size` bytes, suitably aligned for them (the product is
 * checked for overflow: these sizes come from Python). */
static int check_size(const Py_buffer *b, Py_ssize_t count, Py_ssize_t size, const char *name)
{
    if (count < 0 || (count > 0 && count > PY_SSIZE_T_MAX / size)) {
        PyErr_Format(PyExc_ValueError, "%s: %zd items of %zd bytes is out of range", name, count,
                     size);
        return 0;
    }
    if (b->len < count * size) {
        PyErr_Format(PyExc_ValueError, "%s: buffer of %zd bytes, need %zd", name, b->len,
                     count * size);
        return 0;
    }
    if ((uintptr_t)b->buf % (uintptr_t)size != 0) {
        PyErr_Format(PyExc_ValueError, "%s: buffer not aligned to %zd bytes", name, size);
        return 0;
    }
    return 1;
}

/* r1 * n without overflow, or -1. */
static Py_ssize_t items(Py_ssize_t r1, Py_ssize_t n)
{
    if (r1 < 0 || n < 0 || (n > 0 && r1 > PY_SSIZE_T_MAX / n))
        return -1;
    return r1 * n;
}

/* rows(x, out, a, k, s, n, r0, r1, kind, f32): rows r0..r1 of the C-contiguous (R, n) array x.
 * Writes a[r] (float64), k[r] (int64), s[r] = sum_{j != k} exp(x_j - a) (float64; NaN where a is
 * not finite) and, for kind softmax / log_softmax, the row of out (x's dtype).  Rows whose
 * maximum is not finite are left to the caller. */
static PyObject *py_rows(PyObject *self, PyObject *args)
{
    Py_buffer x, a, k, s;
    PyObject *out_obj;
    Py_ssize_t n, r0, r1;
    int kind, f32;
    if (!PyArg_ParseTuple(args, "y*Ow*w*w*nnnip", &x, &out_obj, &a, &k, &s, &n, &r0, &r1, &kind,
                          &f32))
        return NULL;
    Py_buffer out = {0};
    int have_out = out_obj != Py_None;
    PyObject *result = NULL;
    Py_ssize_t size = f32 ? 4 : 8;
    if (have_out && PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        goto done_no_out;
    if (n <= 0 || r0 < 0 || r1 < r0 || kind < 0 || kind > 2 || (kind != KIND_STATS && !have_out)) {
        PyErr_SetString(PyExc_ValueError, "rows: bad n, row range or kind");
        goto done;
    }
    if (!check_size(&x, items(r1, n), size, "x") || !check_size(&a, r1, 8, "a") ||
        !check_size(&k, r1, 8, "k") || !check_size(&s, r1, 8, "s") ||
        (have_out && !check_size(&out, items(r1, n), size, "out")))
        goto done;
    {
        const char *xp = (const char *)x.buf;
        double *ap = (double *)a.buf, *sp = (double *)s.buf;
        int64_t *kp = (int64_t *)k.buf;
        char *op = have_out ? (char *)out.buf : NULL;
        /* float32 softmax of rows that fit the cache: the terms of the sum are kept for the
         * output pass instead of being computed twice */
        double *keep = NULL;
        if (kind == KIND_SOFTMAX && f32 && n <= KEEP_MAX && r1 > r0)
            keep = (double *)malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
        Py_BEGIN_ALLOW_THREADS
        for (Py_ssize_t r = r0; r < r1; r++) {
            const char *row = xp + r * n * size;
            Py_ssize_t kr = K->argmax(row, f32, n);
            double av = f32 ? (double)((const float *)row)[kr] : ((const double *)row)[kr];
            ap[r] = av;
            kp[r] = (int64_t)kr;
            if (!isfinite(av)) {
                sp[r] = NAN;
                continue;
            }
            double hh = 0.0, hl = 0.0, w = 0.0;
            K->sums(row, f32, n, av, 0, &hh, &hl, &w, keep);
            double sr = (hh - 1.0) + (hl + w); /* the maximum's term is exactly 1 */
            if (sr < TINY_SUM)
                sr = tiny_sum(row, f32, n, av);
            sp[r] = sr;
            if (kind != KIND_STATS) {
                double rh, rl, L;
                row_constants(hh, hl + w, sr, &rh, &rl, &L);
                if (keep)
                    K->scale_store(keep, n, rh + rl, (float *)(op + r * n * size));
                else
                    K->outputs(row, f32, n, av, kind, rh, rl, L, op + r * n * size);
            }
        }
        Py_END_ALLOW_THREADS
        free(keep);
    }
    result = Py_None;
    Py_INCREF(result);
done:
    if (have_out)
        PyBuffer_Release(&out);
done_no_out:
    PyBuffer_Release(&x);
    PyBuffer_Release(&a);
    PyBuffer_Release(&k);
    PyBuffer_Release(&s);
    return result;
}

static int segment(const Py_buffer *x, Py_ssize_t start, Py_ssize_t stop, int f32)
{
    Py_ssize_t size = f32 ? 4 : 8;
    if (start < 0 || stop < start) {
        PyErr_SetString(PyExc_ValueError, "bad segment bounds");
        return 0;
    }
    return check_size(x, stop, size, "x");
}

/* (s_hi + s_lo) exp(m - a) as a double-double, m <= a finite: the shift m - a with its rounding
 * error (TwoSum) into exp_dd, the product with Dekker's error term.  0 below exp(LOW). */
static void rescale(double s_hi, double s_lo, double m, double a, double *hi, double *lo)
{
    double d = m - a;
    double dl = shift_err_generic(m, a, d);
    if (!(d >= LOW)) {
        *hi = *lo = 0.0;
        return;
    }
    dd f = exp_dd_generic(d, dl, 0);
    double p = s_hi * f.hi;
    double e = two_prod_err_generic(s_hi, f.hi, p) + (s_hi * f.lo + s_lo * f.hi);
    *hi = p + e; /* FastTwoSum: |e| <= 2**-7 |p| */
    *lo = e - (*hi - p);
}

/* Add b_hi + b_lo into *s_hi + *s_lo (TwoSum, then renormalized). */
static void dd_add(double *s_hi, double *s_lo, double b_hi, double b_lo)
{
    double t = *s_hi + b_hi, bb = t - *s_hi;
    double e = (*s_hi - (t - bb)) + (b_hi - bb) + (*s_lo + b_lo);
    *s_hi = t + e;
    *s_lo = e - (*s_hi - t);
}

/* Statistics of x[0:n] read once from memory: chunks of CHUNK elements stay in the cache between
 * their maximum and their sum, and each chunk's sum is rescaled to the running maximum.
 * Returns m (NaN if the segment has NaN: then k is its first NaN), k (first index of m), and
 * S = s_hi + s_lo = sum exp(x - m) (m's own 1 included; 0 unless m is finite). */
static void seg_stats(const char *p, int f32, Py_ssize_t n, double *m_out, Py_ssize_t *k_out,
                      double *s_hi, double *s_lo)
{
    Py_ssize_t size = f32 ? 4 : 8;
    double M = -INFINITY, SH = 0.0, SL = 0.0;
    Py_ssize_t KM = 0;
    int inf_seen = 0;
    for (Py_ssize_t c0 = 0; c0 < n; c0 += CHUNK) {
        Py_ssize_t len = n - c0 < CHUNK ? n - c0 : CHUNK;
        const char *q = p + c0 * size;
        Py_ssize_t kc = K->argmax(q, f32, len);
        double mc = f32 ? (double)((const float *)q)[kc] : ((const double *)q)[kc];
        if (mc != mc) { /* NaN: nothing else matters */
            *m_out = mc;
            *k_out = c0 + kc;
            *s_hi = *s_lo = NAN;
            return;
        }
        if (inf_seen || mc == INFINITY) { /* only a later NaN can change the outcome now */
            if (!inf_seen && mc > M) {
                M = mc;
                KM = c0 + kc;
            }
            inf_seen = 1;
            continue;
        }
        if (mc == -INFINITY)
            continue; /* contributes exp(-inf) = 0 */
        double hh = 0.0, hl = 0.0, w = 0.0;
        K->sums(q, f32, len, mc, 0, &hh, &hl, &w, NULL);
        double ch = hh + (hl + w), cl = (hl + w) - (ch - hh);
        if (mc > M) {
            double rh, rl;
            rescale(SH, SL, M, mc, &rh, &rl); /* M = -inf at the start: rescales to 0 */
            SH = ch;
            SL = cl;
            dd_add(&SH, &SL, rh, rl);
            M = mc;
            KM = c0 + kc;
        }
        else {
            double rh, rl;
            rescale(ch, cl, mc, M, &rh, &rl);
            dd_add(&SH, &SL, rh, rl);
        }
    }
    *m_out = M;
    *k_out = KM;
    *s_hi = inf_seen ? NAN : SH;
    *s_lo = inf_seen ? NAN : SL;
}

/* seg_stats(x, start, stop, f32) -> (m, k, s_hi, s_lo): see seg_stats above (k absolute). */
static PyObject *py_seg_stats(PyObject *self, PyObject *args)
{
    Py_buffer x;
    Py_ssize_t start, stop, k = 0;
    double m = 0.0, sh = 0.0, sl = 0.0;
    int f32;
    if (!PyArg_ParseTuple(args, "y*nnp", &x, &start, &stop, &f32))
        return NULL;
    if (!segment(&x, start, stop, f32)) {
        PyBuffer_Release(&x);
        return NULL;
    }
    const char *p = (const char *)x.buf + start * (f32 ? 4 : 8);
    Py_BEGIN_ALLOW_THREADS
    seg_stats(p, f32, stop - start, &m, &k, &sh, &sl);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    return Py_BuildValue("(dndd)", m, start + k, sh, sl);
}

/* rescale(s_hi, s_lo, m, a) -> (hi, lo) = (s_hi + s_lo) exp(m - a), m <= a: a segment's sum
 * brought to the row's maximum. */
static PyObject *py_rescale(PyObject *self, PyObject *args)
{
    double sh, sl, m, a, hi, lo;
    if (!PyArg_ParseTuple(args, "dddd", &sh, &sl, &m, &a))
        return NULL;
    if (!(m <= a) || !isfinite(a)) {
        PyErr_SetString(PyExc_ValueError, "rescale: need m <= a, a finite");
        return NULL;
    }
    rescale(sh, sl, m, a, &hi, &lo);
    return Py_BuildValue("(dd)", hi, lo);
}

/* seg_sums(x, start, stop, a, f32, scaled=False) -> (h_hi, h_lo, w): sum of exp(x - a) over the
 * segment, the maximum's term included, as the exact grid part h_hi + h_lo and the remainder w;
 * `scaled`: of exp(x - a) 2**200, for rows whose other terms are all below 2**-800. */
static PyObject *py_seg_sums(PyObject *self, PyObject *args)
{
    Py_buffer x;
    Py_ssize_t start, stop;
    double a, hh = 0.0, hl = 0.0, w = 0.0;
    int f32, scaled = 0;
    if (!PyArg_ParseTuple(args, "y*nndp|p", &x, &start, &stop, &a, &f32, &scaled))
        return NULL;
    if (!segment(&x, start, stop, f32)) {
        PyBuffer_Release(&x);
        return NULL;
    }
    const char *p = (const char *)x.buf + start * (f32 ? 4 : 8);
    Py_BEGIN_ALLOW_THREADS
    K->sums(p, f32, stop - start, a, scaled ? BIAS : 0, &hh, &hl, &w, NULL);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&x);
    return Py_BuildValue("(ddd)", hh, hl, w);
}

/* seg_outputs(x, out, start, stop, a, s_hi, s_lo, s, kind, f32): softmax or log_softmax of the
 * segment, for a row whose total sum is S = s_hi + s_lo (maximum included) and s = S - 1. */
static PyObject *py_seg_outputs(PyObject *self, PyObject *args)
{
    Py_buffer x, out;
    Py_ssize_t start, stop;
    double a, s_hi, s_lo, s;
    int kind, f32;
    if (!PyArg_ParseTuple(args, "y*w*nndddd" "ip", &x, &out, &start, &stop, &a, &s_hi, &s_lo, &s,
                          &kind, &f32))
        return NULL;
    PyObject *result = NULL;
    if (kind != KIND_SOFTMAX && kind != KIND_LOG_SOFTMAX) {
        PyErr_SetString(PyExc_ValueError, "seg_outputs: kind must be softmax or log_softmax");
        goto done;
    }
    if (!segment(&x, start, stop, f32) || !segment(&out, start, stop, f32))
        goto done;
    {
        Py_ssize_t size = f32 ? 4 : 8;
        const char *p = (const char *)x.buf + start * size;
        char *o = (char *)out.buf + start * size;
        double rh, rl, L;
        row_constants(s_hi, s_lo, s, &rh, &rl, &L);
        Py_BEGIN_ALLOW_THREADS
        K->outputs(p, f32, stop - start, a, kind, rh, rl, L, o);
        Py_END_ALLOW_THREADS
    }
    result = Py_None;
    Py_INCREF(result);
done:
    PyBuffer_Release(&x);
    PyBuffer_Release(&out);
    return result;
}

/* exp_dd(d) -> (hi, lo): the kernels' exp, for tests. */
static PyObject *py_exp_dd(PyObject *self, PyObject *args)
{
    double d, dl = 0.0;
    if (!PyArg_ParseTuple(args, "d|d", &d, &dl))
        return NULL;
    if (!(d >= LOW && d <= 0.0)) {
        PyErr_SetString(PyExc_ValueError, "exp_dd: d must be in [-650, 0]");
        return NULL;
    }
    dd e = exp_dd_generic(d, dl, 0);
    return Py_BuildValue("(dd)", e.hi, e.lo);
}

/* table() -> (list of the EXP2_BITS entries, list of the EXP2_TAIL entries), for tests. */
static PyObject *py_table(PyObject *self, PyObject *noargs)
{
    PyObject *bits = PyList_New(EXP_N), *tails = PyList_New(EXP_N);
    if (!bits || !tails)
        goto fail;
    for (int j = 0; j < EXP_N; j++) {
        PyObject *b = PyLong_FromUnsignedLongLong(EXP2_BITS[j]);
        PyObject *t = PyFloat_FromDouble(EXP2_TAIL[j]);
        if (!b || !t) {
            Py_XDECREF(b);
            Py_XDECREF(t);
            goto fail;
        }
        PyList_SET_ITEM(bits, j, b);
        PyList_SET_ITEM(tails, j, t);
    }
    return Py_BuildValue("(NN)", bits, tails);
fail:
    Py_XDECREF(bits);
    Py_XDECREF(tails);
    return NULL;
}

/* set_variant(name): for tests and benchmarks; not while another thread is computing (the
 * choice is one global pointer, read at each call). */
static PyObject *py_set_variant(PyObject *self, PyObject *args)
{
    const char *name;
    if (!PyArg_ParseTuple(args, "s", &name))
        return NULL;
    if (strcmp(name, "generic") == 0) {
        K = &table_generic;
        variant_name = "generic";
        Py_RETURN_NONE;
    }
#ifdef HAVE_X86_VARIANTS
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0 && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        K = &table_avx2;
        variant_name = "avx2";
        Py_RETURN_NONE;
    }
    if (strcmp(name, "avx512") == 0 && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        K = &table_avx512;
        variant_name = "avx512";
        Py_RETURN_NONE;
    }
#endif
    PyErr_Format(PyExc_ValueError, "variant %s is not available on this CPU or build", name);
    return NULL;
}

/* Append a new str to a list; 0 on success, -1 with an exception set. */
static int append_name(PyObject *lst, const char *name)
{
    PyObject *str = PyUnicode_FromString(name);
    if (str == NULL)
        return -1;
    int rc = PyList_Append(lst, str); /* the list takes its own reference */
    Py_DECREF(str);
    return rc;
}

static PyObject *py_variants(PyObject *self, PyObject *noargs)
{
    PyObject *lst = PyList_New(0);
    if (lst == NULL || append_name(lst, "generic") < 0)
        goto fail;
#ifdef HAVE_X86_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        append_name(lst, "avx2") < 0)
        goto fail;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma") && append_name(lst, "avx512") < 0)
        goto fail;
#endif
    return lst;
fail:
    Py_XDECREF(lst);
    return NULL;
}

static PyObject *py_variant(PyObject *self, PyObject *noargs)
{
    return PyUnicode_FromString(variant_name);
}

static PyMethodDef methods[] = {
    {"rows", py_rows, METH_VARARGS, "Max-shift statistics and outputs of whole rows."},
    {"seg_sums", py_seg_sums, METH_VARARGS, "Sums of exp(x - a) over a segment."},
    {"seg_stats", py_seg_stats, METH_VARARGS, "Maximum and sum of a segment, read once."},
    {"rescale", py_rescale, METH_VARARGS, "A segment's sum brought to the row's maximum."},
    {"seg_outputs", py_seg_outputs, METH_VARARGS, "softmax / log_softmax of a segment."},
    {"exp_dd", py_exp_dd, METH_VARARGS, "The kernels' exp as a double-double (tests)."},
    {"table", py_table, METH_NOARGS, "The 2**(j/128) table (tests)."},
    {"variants", py_variants, METH_NOARGS, "Instruction-set variants this CPU can run."},
    {"variant", py_variant, METH_NOARGS, "The variant in use."},
    {"set_variant", py_set_variant, METH_VARARGS, "Use another variant (tests, benchmarks)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "numdl._kernels",
    "Compiled max-shift kernels for numdl.stable (see _kernels.c).", -1, methods,
};

PyMODINIT_FUNC PyInit__kernels(void)
{
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
#ifdef HAVE_X86_VARIANTS
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx2") &&
        __builtin_cpu_supports("fma")) {
        K = &table_avx512;
        variant_name = "avx512";
    }
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        K = &table_avx2;
        variant_name = "avx2";
    }
#endif
    return m;
}
