/* The kernels of numdl._kernels, compiled once per instruction-set variant (see _kernels.c).
 *
 * Included with VARIANT (a suffix for every name) and USE_FMA (1 where the variant has fused
 * multiply-add) defined.  Everything here is static: the including file picks one variant at
 * import time through the function table at the end.
 */

#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, VARIANT)

/* a * b + c, fused where the variant has FMA (one rounding instead of two: only ever more
 * accurate; used in the exp polynomials, never in an error-free transformation). */
#if USE_FMA
#define MADD(a, b, c) __builtin_fma((a), (b), (c))
#else
#define MADD(a, b, c) ((a) * (b) + (c))
#endif

/* The rounding error of d = fl(x - a): x - a == d + shift_err(x, a, d) exactly (TwoSum).
 * NaN where x or a is infinite. */
static inline double FN(shift_err)(double x, double a, double d)
{
    double bb = d - x;
    return (x - (d - bb)) + (-a - bb);
}

/* The error of the product p = fl(a * b): a * b == p + err exactly (no overflow or underflow). */
static inline double FN(two_prod_err)(double a, double b, double p)
{
#if USE_FMA
    return __builtin_fma(a, b, -p);
#else
    double t = SPLITTER * a;
    double ah = t - (t - a), al = a - ah;
    t = SPLITTER * b;
    double bh = t - (t - b), bl = b - bh;
    return ((ah * bh - p) + ah * bl + al * bh) + al * bl;
#endif
}

/* exp(d + dl) = hi + lo, with |lo| < 2**-7 |hi| and a relative error below 2**-58 (2**-59.3
 * measured) for d in [-650, 0] with `bias` 0 -- down to -708 the result is still right but lo
 * may be subnormal -- or d in [-800, -650] with `bias` 200 (the result times 2**200), and
 * |dl| <= 2**-40 (the rounding error of d).
 *
 * d = (k + j / 128) ln 2 + r with |r| <= ln2 / 256, k = floor, j = k mod 128:
 * exp(d) = 2**k 2**(j/128) exp(r), 2**(j/128) = hi_j (1 + tail_j) from the table (exact to
 * 2**-106), exp(r) = 1 + p(r) by its Taylor polynomial of degree 5 (truncation r**6 / 720 <
 * 2**-60).  k ln2/128 is split so that k * LN2N_HI is exact (|k| < 2**18) and d - k * LN2N_HI
 * is exact (Sterbenz); dl enters r, so exp(d + dl) costs no more than exp(d).  The scale
 * 2**k hi_j is built from its bits (the layout of ARM's optimized-routines exp), plus `bias`
 * in the exponent: the caller of a very small result asks for it 2**bias times larger.
 */
static inline dd FN(exp_dd)(double d, double dl, uint64_t bias)
{
    double z = d * EXP_INV_LN2N;
    double kd = z + SHIFT;
    uint64_t ki = as_u64(kd);
    kd -= SHIFT;
    double r = MADD(-kd, EXP_LN2N_LO, MADD(-kd, EXP_LN2N_HI, d)) + dl;
    uint64_t idx = ki & (EXP_N - 1);
    uint64_t top = (ki << (52 - 7)) + (bias << 52);
    double scale = as_double(EXP2_BITS[idx] + top);
    double tail = EXP2_TAIL[idx];
    double p = MADD(r * r, MADD(r, MADD(r, MADD(r, C5, C4), C3), 0.5), r);
    dd e = {scale, scale * (tail + p)};
    return e;
}

/* exp(d) in float64 for d in [-708, 0], relative error below 2**-52 (2**-53 from the table's
 * rounding, 2**-53 from the last addition, the rest far below): enough for float32 inputs, whose
 * results are rounded to 2**-24.  The same reduction as exp_dd without the tail's table load. */
static inline double FN(exp_fast)(double d)
{
    double z = d * EXP_INV_LN2N;
    double kd = z + SHIFT;
    uint64_t ki = as_u64(kd);
    kd -= SHIFT;
    double r = MADD(-kd, EXP_LN2N_LO, MADD(-kd, EXP_LN2N_HI, d));
    double scale = as_double(EXP2_BITS[ki & (EXP_N - 1)] + (ki << (52 - 7)));
    double p = MADD(r * r, MADD(r, MADD(r, MADD(r, C5, C4), C3), 0.5), r);
    return MADD(scale, p, scale);
}

/* Sum of `len` (<= BLOCK) values, LANES2 partial sums combined pairwise: the error is at most
 * (len / LANES2 + log2 LANES2) u times the sum of magnitudes. */
static inline double FN(block_total)(const double *v, Py_ssize_t len)
{
    double acc[LANES2] = {0.0};
    Py_ssize_t i = 0;
    for (; i + LANES2 <= len; i += LANES2)
        for (int l = 0; l < LANES2; l++)
            acc[l] += v[i + l];
    for (int l = 0; i < len; i++, l++)
        acc[l] += v[i];
    for (int w = LANES2 / 2; w >= 1; w /= 2)
        for (int l = 0; l < w; l++)
            acc[l] += acc[l + w];
    return acc[0];
}

/* Add a block's grid parts hb (exact sum: multiples of 2**-26 below 2**8) and remainders wb to
 * the running totals, each with TwoSum, so that the error of the whole is that of one block. */
static inline void FN(accumulate)(const double *hb, const double *wb, Py_ssize_t len, double *sh,
                                  double *sl, double *sw, double *swl)
{
    double h = FN(block_total)(hb, len), w = FN(block_total)(wb, len);
    double t = *sh + h, bb = t - *sh;
    *sl += (*sh - (t - bb)) + (h - bb);
    *sh = t;
    t = *sw + w;
    bb = t - *sw;
    *swl += (*sw - (t - bb)) + (w - bb);
    *sw = t;
}

/* Block of `len` input elements as float64: the input itself, or `buf` holding its conversion. */
static inline const double *FN(load)(const char *p, int f32, Py_ssize_t len, double *buf)
{
    if (!f32)
        return (const double *)p;
    const float *q = (const float *)p;
    for (Py_ssize_t i = 0; i < len; i++)
        buf[i] = (double)q[i];
    return buf;
}

/* First index of the maximum of x[0:n] (of the first NaN, if any: numpy.argmax's rule). */
static Py_ssize_t FN(argmax)(const char *p, int f32, Py_ssize_t n)
{
    double buf[BLOCK];
    double m = -INFINITY;
    int nan = 0;
    for (Py_ssize_t i0 = 0; i0 < n; i0 += BLOCK) {
        Py_ssize_t len = n - i0 < BLOCK ? n - i0 : BLOCK;
        const double *x = FN(load)(p + i0 * (f32 ? 4 : 8), f32, len, buf);
        double bm = -INFINITY;
        int bn = 0;
#pragma omp simd reduction(max : bm) reduction(| : bn)
        for (Py_ssize_t i = 0; i < len; i++) {
            bm = x[i] > bm ? x[i] : bm;
            bn |= x[i] != x[i];
        }
        m = bm > m ? bm : m;
        nan |= bn;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        double v = f32 ? (double)((const float *)p)[i] : ((const double *)p)[i];
        if (nan ? v != v : v == m)
            return i;
    }
    return 0;
}

/* Sums over x[0:n] of exp(x - a) 2**bias (a finite, the maximum), every term split as
 * hi (a multiple of 2**-26: summed exactly) + w (|w| < 2**-26, summed in blocks).
 * With bias 0, terms below exp(LOW) ~ 2**-937 are left out: beside the maximum's 1 they are
 * nothing, unless every other term is that small -- the caller then sums again with bias 200,
 * which keeps terms down to exp(-800) ~ 2**-1154 normal.
 * Adds to *h_hi + *h_lo (exact, TwoSum between blocks) and *w.  `store` (float32 input, bias 0):
 * where to keep the terms exp(x - a) for a softmax pass that follows, or NULL. */
static void FN(sums)(const char *p, int f32, Py_ssize_t n, double a, uint64_t bias, double *h_hi,
                     double *h_lo, double *w_out, double *store)
{
    const double low = bias ? -800.0 : LOW;
    double buf[BLOCK], hb[BLOCK], wb[BLOCK];
    double sh = *h_hi, sl = *h_lo, sw = *w_out, swl = 0.0;
    for (Py_ssize_t i0 = 0; i0 < n; i0 += BLOCK) {
        Py_ssize_t len = n - i0 < BLOCK ? n - i0 : BLOCK;
        const double *x = FN(load)(p + i0 * (f32 ? 4 : 8), f32, len, buf);
        if (f32 && !bias) {
            /* float32 input: x - a is exact or within 2**-53 |x - a| in float64, and the terms
             * need no more than exp_fast's accuracy.  The split hi + w stays: it is what keeps
             * the small terms beside the maximum's 1 (s = sum - 1 needs them). */
            double *eb = store ? store + i0 : buf;
            for (Py_ssize_t i = 0; i < len; i++) {
                double d = x[i] - a;
                int ok = d >= low;
                double e = FN(exp_fast)(ok ? d : 0.0);
                eb[i] = ok ? e : 0.0;
            }
            for (Py_ssize_t i = 0; i < len; i++) {
                double hf = (eb[i] + FIXED) - FIXED;
                hb[i] = hf;
                wb[i] = eb[i] - hf;
            }
            FN(accumulate)(hb, wb, len, &sh, &sl, &sw, &swl);
            continue;
        }
        for (Py_ssize_t i = 0; i < len; i++) {
            double xi = x[i];
            double d = xi - a;
            double dl = FN(shift_err)(xi, a, d);
            int ok = d >= low;
            dd e = FN(exp_dd)(ok ? d : 0.0, ok ? dl : 0.0, bias);
            double e_hi = ok ? e.hi : 0.0, e_lo = ok ? e.lo : 0.0;
            double hf = (e_hi + FIXED) - FIXED;
            hb[i] = hf;
            wb[i] = (e_hi - hf) + e_lo;
        }
        FN(accumulate)(hb, wb, len, &sh, &sl, &sw, &swl);
    }
    *h_hi = sh;
    *h_lo = sl;
    *w_out = sw + swl;
}

/* softmax of a float64 element with exp(x - a) below exp(LOW), scaled through 2**200 so that the
 * product stays normal; rounded to a subnormal (or 0) once at the end. */
static double FN(softmax_tiny)(double xi, double a, double rh, double rl)
{
    double d = xi - a;
    double dl = FN(shift_err)(xi, a, d);
    if (!(d >= -800.0))
        return 0.0; /* exp(d) / S < 2**-1154: rounds to 0 */
    dd e = FN(exp_dd)(d, dl, 200);
    double ph = e.hi * rh;
    double y = ph + (FN(two_prod_err)(e.hi, rh, ph) + (e.hi * rl + e.lo * rh));
    return y * 0x1p-200;
}

/* float32 softmax from the terms kept by sums(): exp(x - a) / S, rounded once. */
static void FN(scale_store)(const double *e, Py_ssize_t n, double inv, float *out)
{
    for (Py_ssize_t i = 0; i < n; i++)
        out[i] = (float)(e[i] * inv);
}

/* Outputs over x[0:n] into out (float32 when f32, float64 otherwise).
 * softmax: exp(x - a) / S with 1/S = rh + rl; log_softmax: (x - a) - L, L = log1p(S - 1). */
static void FN(outputs)(const char *p, int f32, Py_ssize_t n, double a, int kind, double rh,
                        double rl, double L, char *out)
{
    double buf[BLOCK], y[BLOCK];
    for (Py_ssize_t i0 = 0; i0 < n; i0 += BLOCK) {
        Py_ssize_t len = n - i0 < BLOCK ? n - i0 : BLOCK;
        const double *x = FN(load)(p + i0 * (f32 ? 4 : 8), f32, len, buf);
        if (kind == KIND_SOFTMAX && f32) {
            /* exp(x - a) / S in float64 (error ~4 u), rounded once to float32; results below
             * 2**-937 round to 0 in float32 anyway */
            const double inv = rh + rl;
            for (Py_ssize_t i = 0; i < len; i++) {
                double d = x[i] - a;
                int ok = d >= LOW;
                double e = FN(exp_fast)(ok ? d : 0.0);
                y[i] = ok ? e * inv : 0.0;
            }
        }
        else if (kind == KIND_SOFTMAX) {
            for (Py_ssize_t i = 0; i < len; i++) {
                double xi = x[i];
                double d = xi - a;
                double dl = FN(shift_err)(xi, a, d);
                int ok = d >= LOW;
                dd e = FN(exp_dd)(ok ? d : 0.0, ok ? dl : 0.0, 0);
                /* (e.hi + e.lo)(rh + rl), rounded once: e.hi rh exactly as ph + its error */
                double ph = e.hi * rh;
                double v = ph + (FN(two_prod_err)(e.hi, rh, ph) + (e.hi * rl + e.lo * rh));
                y[i] = ok ? v : 0.0;
            }
            int tiny = 0;
            for (Py_ssize_t i = 0; i < len; i++)
                tiny |= (x[i] - a < LOW) & (x[i] - a >= -800.0);
            if (tiny) {
                for (Py_ssize_t i = 0; i < len; i++) {
                    double d = x[i] - a;
                    if (!(d >= LOW) && d >= -800.0)
                        y[i] = FN(softmax_tiny)(x[i], a, rh, rl);
                }
            }
        }
        else if (f32) {
            for (Py_ssize_t i = 0; i < len; i++)
                y[i] = (x[i] - a) - L; /* x = -inf: -inf */
        }
        else {
            for (Py_ssize_t i = 0; i < len; i++) {
                double xi = x[i];
                double d = xi - a;
                double dl = FN(shift_err)(xi, a, d);
                dl = dl == dl ? dl : 0.0; /* x = -inf (or d overflowing): y = d = -inf */
                y[i] = d + (dl - L);
            }
        }
        if (f32) {
            float *o = (float *)out + i0;
            for (Py_ssize_t i = 0; i < len; i++)
                o[i] = (float)y[i];
        }
        else {
            memcpy((double *)out + i0, y, (size_t)len * sizeof(double));
        }
    }
}

static const struct kernels FN(table) = {
    FN(argmax),
    FN(sums),
    FN(outputs),
    FN(scale_store),
};

#undef MADD
#undef FN
#undef CAT
#undef CAT_
