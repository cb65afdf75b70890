/* The fused block kernels, written once for one floating type.
 *
 * Included by _kernels_types.h once per REAL type with these macros set:
 *   REAL   float or double: the type of X, the parameters and the logits
 *   VLEN   lanes of a 32-byte vector of REAL (8 or 4)
 *   FN(n)  the name of function n for this type, e.g. n##_f32
 * and, for the sparse kernels, once more per index type with
 *   INDEX  int32_t or int64_t, and CSR(n) the name for this (REAL, INDEX) pair.
 *
 * Every kernel is the formula of the same name in math.py on one block of
 * rows, computed tile by tile so that X is read from memory once per pass:
 * a tile of rows gives its logits, then its residuals, then its share of the
 * gradient while it is still in cache. Sums over rows are accumulated in
 * double (per tile in REAL registers, then added to double totals).
 */

#ifndef INDEX

typedef REAL FN(vec) __attribute__((vector_size(32)));

INLINE FN(vec) FN(load)(const REAL *p)
{
    FN(vec) v;
    memcpy(&v, p, sizeof v);
    return v;
}

INLINE FN(vec) FN(broadcast)(REAL a)
{
    /* a - 0 is a exactly (even for a = -0), so this compiles to one broadcast. */
    return a - (FN(vec)){0};
}

INLINE REAL FN(lane_sum)(FN(vec) v)
{
    REAL s = 0;
    for (int l = 0; l < VLEN; l++) s += v[l];
    return s;
}

/* Partial logits of RB rows (RB = 1, 2 or 3) for KB consecutive classes (KB =
 * 1, 2 or 4) over the features j0 .. j1 - 1: out[r * c + k] += x_r . w_k on
 * those features. Rows of x are ldx apart, rows of w d apart. */
INLINE void FN(dot_tile)(const REAL *x, Py_ssize_t ldx, Py_ssize_t d, Py_ssize_t j0, Py_ssize_t j1,
                         const REAL *w, int RB, int KB, REAL *out, Py_ssize_t c)
{
    FN(vec) acc[3][4];
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < KB; k++) acc[r][k] = FN(broadcast)(0);
    Py_ssize_t j = j0;
    for (; j + VLEN <= j1; j += VLEN) {
        FN(vec) u[3];
        for (int r = 0; r < RB; r++) u[r] = FN(load)(x + r * ldx + j);
        for (int k = 0; k < KB; k++) {
            FN(vec) wk = FN(load)(w + k * d + j);
            for (int r = 0; r < RB; r++) acc[r][k] += u[r] * wk;
        }
    }
    for (int r = 0; r < RB; r++)
        for (int k = 0; k < KB; k++) {
            REAL s = FN(lane_sum)(acc[r][k]);
            for (Py_ssize_t t = j; t < j1; t++) s += x[r * ldx + t] * w[k * d + t];
            out[r * c + k] += s;
        }
}

/* Partial logits of RB rows for all classes over features j0 .. j1 - 1. */
INLINE void FN(dot_rows)(const REAL *x, Py_ssize_t ldx, Py_ssize_t d, Py_ssize_t j0,
                         Py_ssize_t j1, const REAL *W, Py_ssize_t c, int RB, REAL *out)
{
    Py_ssize_t k = 0;
    for (; k + 4 <= c; k += 4) FN(dot_tile)(x, ldx, d, j0, j1, W + k * d, RB, 4, out + k, c);
    for (; k + 2 <= c; k += 2) FN(dot_tile)(x, ldx, d, j0, j1, W + k * d, RB, 2, out + k, c);
    for (; k < c; k++) FN(dot_tile)(x, ldx, d, j0, j1, W + k * d, RB, 1, out + k, c);
}

/* Logits of a tile: A (rows, c) = X_tile (rows, d; rows ldx apart) @ W (c, d)^T [+ b].
 * The features are taken in slices whose part of W fits in a core's L1 cache
 * (16 KiB), so W is read from L1 for every group of three rows. */
INLINE void FN(forward)(const REAL *X, Py_ssize_t ldx, Py_ssize_t rows, Py_ssize_t d,
                        const REAL *W, const REAL *b, Py_ssize_t c, REAL *A)
{
    for (Py_ssize_t r = 0; r < rows; r++)
        for (Py_ssize_t k = 0; k < c; k++) A[r * c + k] = b == NULL ? 0 : b[k];
    Py_ssize_t slice = (16 * 1024 / (Py_ssize_t)sizeof(REAL)) / c;
    slice = slice < 4 * VLEN ? 4 * VLEN : slice - slice % VLEN;
    for (Py_ssize_t j0 = 0; j0 < d; j0 += slice) {
        Py_ssize_t j1 = d - j0 < slice ? d : j0 + slice;
        Py_ssize_t r = 0;
        for (; r + 3 <= rows; r += 3)
            FN(dot_rows)(X + r * ldx, ldx, d, j0, j1, W, c, 3, A + r * c);
        for (; r + 2 <= rows; r += 2)
            FN(dot_rows)(X + r * ldx, ldx, d, j0, j1, W, c, 2, A + r * c);
        for (; r < rows; r++) FN(dot_rows)(X + r * ldx, ldx, d, j0, j1, W, c, 1, A + r * c);
    }
}

/* Narrow X (few features, many classes): logits with the classes in vectors,
 * a_r = b + sum_j x_rj WT[j, :], no horizontal sums. WT (d, cp) is the coefficients
 * transposed, zero-padded to cp = a multiple of VLEN classes; this does classes
 * k0 .. k0 + NV VLEN - 1 of RB rows at once (RB NV independent accumulators, so the
 * FMA latency is hidden; each vector of WT loaded serves RB rows). */
INLINE void FN(narrow_rows)(const REAL *X, Py_ssize_t ldx, Py_ssize_t d, const REAL *WT,
                            Py_ssize_t cp, Py_ssize_t k0, int RB, int NV, const REAL *b,
                            Py_ssize_t c, REAL *A)
{
    Py_ssize_t k1 = k0 + NV * VLEN < c ? k0 + NV * VLEN : c;
    FN(vec) acc[8][8];
    for (int r = 0; r < RB; r++)
        for (int v = 0; v < NV; v++) acc[r][v] = FN(broadcast)(0);
    for (Py_ssize_t j = 0; j < d; j++) {
        const REAL *wt = WT + j * cp + k0;
        FN(vec) wv[8];
        for (int v = 0; v < NV; v++) wv[v] = FN(load)(wt + v * VLEN);
        for (int r = 0; r < RB; r++) {
            FN(vec) xj = FN(broadcast)(X[r * ldx + j]);
            for (int v = 0; v < NV; v++) acc[r][v] += xj * wv[v];
        }
    }
    for (int r = 0; r < RB; r++) {
        REAL out[8 * VLEN];
        memcpy(out, acc[r], (size_t)NV * sizeof(FN(vec)));
        for (Py_ssize_t k = k0; k < k1; k++) A[r * c + k] = out[k - k0] + (b == NULL ? 0 : b[k]);
    }
}

/* Rows per FN(narrow_rows) call for NV vectors of classes: RB NV accumulators,
 * NV vectors of WT and RB broadcasts fit in the 16 vector registers. */
#define NARROW_RB(NV) ((NV) == 1 ? 7 : (NV) == 2 ? 4 : (NV) == 3 ? 3 : (NV) <= 5 ? 2 : 1)

/* FN(narrow_rows) over all `rows` rows for NV vectors of classes from k0. */
INLINE void FN(narrow_block)(const REAL *X, Py_ssize_t ldx, Py_ssize_t rows, Py_ssize_t d,
                             const REAL *WT, Py_ssize_t cp, Py_ssize_t k0, int NV, const REAL *b,
                             Py_ssize_t c, REAL *A)
{
    const int RB = NARROW_RB(NV);
    Py_ssize_t r = 0;
    for (; r + RB <= rows; r += RB)
        FN(narrow_rows)(X + r * ldx, ldx, d, WT, cp, k0, RB, NV, b, c, A + r * c);
    for (; r < rows; r++) FN(narrow_rows)(X + r * ldx, ldx, d, WT, cp, k0, 1, NV, b, c, A + r * c);
}

/* Logits of a tile of narrow X: A (rows, c) = X_tile @ W^T [+ b] by FN(narrow_rows). */
INLINE void FN(forward_narrow)(const REAL *X, Py_ssize_t ldx, Py_ssize_t rows, Py_ssize_t d,
                               const REAL *WT, Py_ssize_t cp, const REAL *b, Py_ssize_t c, REAL *A)
{
    for (Py_ssize_t k0 = 0; k0 < c; k0 += 8 * VLEN) {
        Py_ssize_t left = (c - k0 + VLEN - 1) / VLEN;
        switch (left >= 8 ? 8 : left) {
#define NARROW(NV_) FN(narrow_block)(X, ldx, rows, d, WT, cp, k0, NV_, b, c, A)
        case 1: NARROW(1); break;
        case 2: NARROW(2); break;
        case 3: NARROW(3); break;
        case 4: NARROW(4); break;
        case 5: NARROW(5); break;
        case 6: NARROW(6); break;
        case 7: NARROW(7); break;
        default: NARROW(8); break;
#undef NARROW
        }
    }
}

/* WT (d, cp) = W^T (W is (c, d)) padded with zero classes up to cp. */
INLINE void FN(transpose_padded)(const REAL *W, Py_ssize_t c, Py_ssize_t d, Py_ssize_t cp,
                                 REAL *WT)
{
    for (Py_ssize_t j = 0; j < d; j++)
        for (Py_ssize_t k = 0; k < cp; k++) WT[j * cp + k] = k < c ? W[k * d + j] : 0;
}

/* G[k, j:j+width] += sum_r R[r, k] X[r, j:j+width] for KB classes from k0, in
 * 2 vectors (width 2 VLEN) or 1 (width VLEN). R has row stride c, X (and the
 * next tile) ldx, G d. When `next` is not NULL, the same columns of the next
 * tile's rows (next_rows of them) are prefetched meanwhile: the next forward
 * pass then finds them in cache instead of waiting for memory. */
INLINE void FN(outer_tile)(const REAL *X, Py_ssize_t ldx, Py_ssize_t rows, Py_ssize_t d,
                           Py_ssize_t j, const REAL *R, Py_ssize_t c, Py_ssize_t k0, int KB, int NV,
                           double *G, const REAL *next, Py_ssize_t next_rows)
{
    FN(vec) acc[4][2];
    for (int k = 0; k < KB; k++)
        for (int v = 0; v < NV; v++) acc[k][v] = FN(broadcast)(0);
    for (Py_ssize_t r = 0; r < rows; r++) {
        FN(vec) u[2];
        for (int v = 0; v < NV; v++) u[v] = FN(load)(X + r * ldx + j + v * VLEN);
        if (next != NULL && r < next_rows) __builtin_prefetch(next + r * ldx + j, 0, 2);
        for (int k = 0; k < KB; k++) {
            FN(vec) rk = FN(broadcast)(R[r * c + k0 + k]);
            for (int v = 0; v < NV; v++) acc[k][v] += rk * u[v];
        }
    }
    for (int k = 0; k < KB; k++) {
        double *g = G + (k0 + k) * d + j;
        for (int v = 0; v < NV; v++)
            for (int l = 0; l < VLEN; l++) g[v * VLEN + l] += (double)acc[k][v][l];
    }
}

/* The chain rule through W x + b for a tile: G (c, d) += R^T X_tile, gb += column
 * sums of R. The first group of classes prefetches the next tile (next_rows
 * rows from `next`; none when NULL), one cache line per row and step. */
INLINE void FN(backward)(const REAL *X, Py_ssize_t ldx, Py_ssize_t rows, Py_ssize_t d,
                         const REAL *R, Py_ssize_t c, double *G, double *gb, const REAL *next,
                         Py_ssize_t next_rows)
{
    Py_ssize_t k = 0;
    for (; k < c;) {
        int KB = c - k >= 4 ? 4 : (c - k >= 2 ? 2 : 1);
        const REAL *ahead = k == 0 ? next : NULL;
        Py_ssize_t j = 0;
#define OUTER(KB_, NV_) FN(outer_tile)(X, ldx, rows, d, j, R, c, k, KB_, NV_, G, ahead, next_rows)
        if (KB == 4) {
            for (; j + 2 * VLEN <= d; j += 2 * VLEN) OUTER(4, 2);
            for (; j + VLEN <= d; j += VLEN) OUTER(4, 1);
        } else if (KB == 2) {
            for (; j + 2 * VLEN <= d; j += 2 * VLEN) OUTER(2, 2);
            for (; j + VLEN <= d; j += VLEN) OUTER(2, 1);
        } else {
            for (; j + 2 * VLEN <= d; j += 2 * VLEN) OUTER(1, 2);
            for (; j + VLEN <= d; j += VLEN) OUTER(1, 1);
        }
#undef OUTER
        for (; j < d; j++)
            for (int kk = 0; kk < KB; kk++) {
                double s = 0;
                for (Py_ssize_t r = 0; r < rows; r++)
                    s += (double)(R[r * c + k + kk] * X[r * ldx + j]);
                G[(k + kk) * d + j] += s;
            }
        k += KB;
    }
    if (gb != NULL)
        for (Py_ssize_t r = 0; r < rows; r++)
            for (k = 0; k < c; k++) gb[k] += (double)R[r * c + k];
}

/* exp(x) for x <= 0 (the shifted logits a - max a), lane by lane: x = n ln 2 + r
 * with |r| <= ln(2) / 2, exp(r) by its Taylor polynomial of degree EXP_DEGREE
 * (truncation below half a unit of roundoff of REAL) by Horner's rule, one FMA
 * per degree, times 2^n built in the exponent bits. Below EXP_MIN (where 2^n
 * would leave the normal range) the result is 0 instead of a subnormal number;
 * NaN stays NaN. Agrees with libm's exp to a few units of roundoff, so the
 * kernels' losses equal the NumPy reference's to 1e-10 (tests/test_kernels.py). */
INLINE FN(vec) FN(exp_nonpositive)(FN(vec) x)
{
    typedef IREAL ivec __attribute__((vector_size(32)));
    const FN(vec) magic = FN(broadcast)(EXP_MAGIC); /* 1.5 * 2^mantissa bits: rounds to integers */
    FN(vec) t = x * FN(broadcast)((REAL)1.4426950408889634074) + magic;
    FN(vec) n = t - magic;
    FN(vec) r = x - n * FN(broadcast)((REAL)EXP_LN2_HI);
    r = r - n * FN(broadcast)((REAL)EXP_LN2_LO);
    static const double inverse_factorial[] = {
        1.0,         1.0,          1.0 / 2,         1.0 / 6,         1.0 / 24,
        1.0 / 120,   1.0 / 720,    1.0 / 5040,      1.0 / 40320,     1.0 / 362880,
        1.0 / 3628800, 1.0 / 39916800, 1.0 / 479001600, 1.0 / 6227020800.0};
    FN(vec) p = FN(broadcast)((REAL)inverse_factorial[EXP_DEGREE]);
    for (int k = EXP_DEGREE - 1; k >= 0; k--) p = p * r + (REAL)inverse_factorial[k];
    ivec exponent = ((ivec)t - (ivec)magic + EXP_BIAS) << EXP_SHIFT;
    FN(vec) result = p * (FN(vec))exponent;
    ivec underflow = x < FN(broadcast)((REAL)EXP_MIN);
    return (FN(vec))((ivec)result & ~underflow);
}

/* For each of `rows` rows of A (row stride lda), the shift m = max of its first
 * c entries into M[r] and exp(a_k - m) into E[r * c + k]. */
INLINE void FN(shifted_exp)(const REAL *A, Py_ssize_t rows, Py_ssize_t c, Py_ssize_t lda,
                            REAL *M, REAL *E)
{
    for (Py_ssize_t r = 0; r < rows; r++) {
        const REAL *a = A + r * lda;
        REAL m = a[0];
        for (Py_ssize_t k = 1; k < c; k++) m = a[k] > m ? a[k] : m;
        M[r] = m;
        for (Py_ssize_t k = 0; k < c; k++) E[r * c + k] = a[k] - m;
    }
    Py_ssize_t i = 0, total = rows * c;
    for (; i + VLEN <= total; i += VLEN) {
        FN(vec) v = FN(exp_nonpositive)(FN(load)(E + i));
        memcpy(E + i, &v, sizeof v);
    }
    if (i < total) { /* the tail, through a padded vector */
        REAL tail[VLEN] = {0};
        memcpy(tail, E + i, (size_t)(total - i) * sizeof(REAL));
        FN(vec) v = FN(exp_nonpositive)(FN(load)(tail));
        memcpy(E + i, &v, (size_t)(total - i) * sizeof(REAL));
    }
}

/* Softmax cross-entropy rows (math._loss_gradient_sum) from their shifts M and
 * exponentials E (FN(shifted_exp)) and the logits A (row stride lda): returns
 * sum_r w_r CE_r, CE = log sum_j exp(a_j - m) - (a_y - m), and, if `residual`,
 * overwrites E with w_r (softmax(a_r) - onehot(y_r)). */
INLINE double FN(rows_loss)(const REAL *A, Py_ssize_t lda, const REAL *M, REAL *E,
                            Py_ssize_t rows, Py_ssize_t c, const int64_t *y, const REAL *w,
                            int residual)
{
    double total = 0;
    for (Py_ssize_t r = 0; r < rows; r++) {
        REAL *e = E + r * c, weight = w == NULL ? 1 : w[r];
        REAL s = 0;
        for (Py_ssize_t k = 0; k < c; k++) s += e[k];
        double ce = log((double)s) - (double)(A[r * lda + y[r]] - M[r]);
        total += w == NULL ? ce : (double)weight * ce;
        if (residual) {
            REAL scale = weight / s;
            for (Py_ssize_t k = 0; k < c; k++) e[k] *= scale;
            e[y[r]] -= weight;
        }
    }
    return total;
}

/* Hessian-product rows (math._hessian_product_sum): E holds exp(a - m) of the
 * point's logits (FN(shifted_exp)), DA (row stride lda) the direction's logit
 * changes; E is overwritten with q = w p (da - p . da), p = softmax(a). */
INLINE void FN(rows_curvature)(REAL *E, const REAL *DA, Py_ssize_t lda, Py_ssize_t rows,
                               Py_ssize_t c, const REAL *w)
{
    for (Py_ssize_t r = 0; r < rows; r++) {
        REAL *q = E + r * c;
        const REAL *da = DA + r * lda;
        REAL s = 0, mean_change = 0;
        for (Py_ssize_t k = 0; k < c; k++) s += q[k];
        for (Py_ssize_t k = 0; k < c; k++) {
            q[k] /= s;
            mean_change += q[k] * da[k];
        }
        REAL weight = w == NULL ? 1 : w[r];
        for (Py_ssize_t k = 0; k < c; k++) q[k] *= weight * (da[k] - mean_change);
    }
}

/* Dense loss (and gradient when G is not NULL) sums over n rows. X (n, d), rows
 * ldx >= d apart (contiguous within a row); y (n); w (n) or NULL; W (c, d) C order;
 * b (c) or NULL; G (c, d) and gb (c) or NULL are added to; scratch holds tile (2c + 1).
 * WT (d, cp), when not NULL, is workspace for the narrow-X logits (FN(forward_narrow)).
 * Returns -1 on a label out of range (nothing else can fail), else 0. */
static int FN(dense_loss_grad)(const REAL *X, Py_ssize_t ldx, Py_ssize_t n, Py_ssize_t d,
                               const int64_t *y, const REAL *w, const REAL *W, const REAL *b,
                               Py_ssize_t c, double *loss, double *G, double *gb, Py_ssize_t tile,
                               REAL *scratch, REAL *WT, Py_ssize_t cp)
{
    REAL *A = scratch, *E = A + tile * c, *M = E + tile * c;
    if (WT != NULL) FN(transpose_padded)(W, c, d, cp, WT);
    double total = 0;
    for (Py_ssize_t start = 0; start < n; start += tile) {
        Py_ssize_t rows = n - start < tile ? n - start : tile;
        Py_ssize_t next_rows = n - start - rows < tile ? n - start - rows : tile;
        const REAL *Xt = X + start * ldx;
        const int64_t *yt = y + start;
        for (Py_ssize_t r = 0; r < rows; r++)
            if (yt[r] < 0 || yt[r] >= c) return -1;
        if (WT != NULL)
            FN(forward_narrow)(Xt, ldx, rows, d, WT, cp, b, c, A);
        else
            FN(forward)(Xt, ldx, rows, d, W, b, c, A);
        FN(shifted_exp)(A, rows, c, c, M, E);
        total += FN(rows_loss)(A, c, M, E, rows, c, yt, w ? w + start : NULL, G != NULL);
        if (G != NULL) FN(backward)(Xt, ldx, rows, d, E, c, G, gb, Xt + rows * ldx, next_rows);
    }
    *loss = total;
    return 0;
}

/* Dense Hessian-product sums over n rows of X (rows ldx apart, as in
 * FN(dense_loss_grad)). WV (2c, d) C order holds the point's coef in rows
 * 0..c-1 and the direction's in rows c..2c-1; bv (2c) the intercept and its
 * direction, or NULL. G (c, d), gb (c) or NULL are added to; scratch holds
 * tile * (3c + 1); WT (d, cp) as in FN(dense_loss_grad), for 2c classes. */
static void FN(dense_hessp)(const REAL *X, Py_ssize_t ldx, Py_ssize_t n, Py_ssize_t d,
                            const REAL *w, const REAL *WV, const REAL *bv, Py_ssize_t c, double *G,
                            double *gb, Py_ssize_t tile, REAL *scratch, REAL *WT, Py_ssize_t cp)
{
    REAL *A = scratch, *E = A + tile * 2 * c, *M = E + tile * c;
    if (WT != NULL) FN(transpose_padded)(WV, 2 * c, d, cp, WT);
    for (Py_ssize_t start = 0; start < n; start += tile) {
        Py_ssize_t rows = n - start < tile ? n - start : tile;
        Py_ssize_t next_rows = n - start - rows < tile ? n - start - rows : tile;
        const REAL *Xt = X + start * ldx;
        if (WT != NULL)
            FN(forward_narrow)(Xt, ldx, rows, d, WT, cp, bv, 2 * c, A);
        else
            FN(forward)(Xt, ldx, rows, d, WV, bv, 2 * c, A);
        FN(shifted_exp)(A, rows, c, 2 * c, M, E);
        FN(rows_curvature)(E, A + c, 2 * c, rows, c, w ? w + start : NULL);
        FN(backward)(Xt, ldx, rows, d, E, c, G, gb, Xt + rows * ldx, next_rows);
    }
}

#else /* INDEX: the CSR kernels, once per index type */

/* Rows of WT (or GT) are read in the order of the column indices, which is
 * random: for wide data they miss every cache and the loop waits on memory.
 * So the row that the entry CSR_PREFETCH_DISTANCE places ahead will need is
 * requested now (entries up to `end`, the block's last; its index is checked
 * before it is used to form an address). */
#ifndef CSR_PREFETCH_DISTANCE
#define CSR_PREFETCH_DISTANCE 24
#endif
INLINE void CSR(prefetch_row)(const INDEX *indices, INDEX p, INDEX end, Py_ssize_t d,
                              const void *rows, Py_ssize_t row_bytes)
{
    if (p >= end) return;
    INDEX j = indices[p];
    if (j < 0 || j >= d) return;
    const char *row = (const char *)rows + (Py_ssize_t)j * row_bytes;
    for (Py_ssize_t offset = 0; offset < row_bytes; offset += 64) __builtin_prefetch(row + offset);
}

/* Logits of CSR row i: a (c) = b (or 0) + sum over its stored entries x_ij
 * of x_ij times row j of WT (d, c), and, when VT is not NULL, their change
 * a[c:2c] = bv (or 0) + the same with VT (d, c). Returns -1 on a bad index. */
INLINE int CSR(csr_row_logits)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                               Py_ssize_t i, INDEX end, Py_ssize_t d, const REAL *WT,
                               const REAL *VT, const REAL *b, const REAL *bv, Py_ssize_t c,
                               REAL *a)
{
    if (indptr[i] > indptr[i + 1]) return -1;
    for (Py_ssize_t k = 0; k < c; k++) a[k] = b == NULL ? 0 : b[k];
    if (VT != NULL)
        for (Py_ssize_t k = 0; k < c; k++) a[c + k] = bv == NULL ? 0 : bv[k];
    for (INDEX p = indptr[i]; p < indptr[i + 1]; p++) {
        INDEX j = indices[p];
        if (j < 0 || j >= d) return -1;
        CSR(prefetch_row)(indices, p + CSR_PREFETCH_DISTANCE, end, d, WT, c * sizeof(REAL));
        const REAL v = data[p], *wt = WT + (Py_ssize_t)j * c;
        for (Py_ssize_t k = 0; k < c; k++) a[k] += v * wt[k];
        if (VT != NULL) {
            CSR(prefetch_row)(indices, p + CSR_PREFETCH_DISTANCE, end, d, VT, c * sizeof(REAL));
            const REAL *vt = VT + (Py_ssize_t)j * c;
            for (Py_ssize_t k = 0; k < c; k++) a[c + k] += v * vt[k];
        }
    }
    return 0;
}

/* GT (d, c) += x_i^T q for CSR row i (rows of GT per stored entry), gb += q. */
INLINE void CSR(csr_row_backward)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                                  Py_ssize_t i, INDEX end, Py_ssize_t d, const REAL *q,
                                  Py_ssize_t c, double *GT, double *gb)
{
    for (INDEX p = indptr[i]; p < indptr[i + 1]; p++) {
        CSR(prefetch_row)(indices, p + CSR_PREFETCH_DISTANCE, end, d, GT, c * sizeof(double));
        const REAL v = data[p];
        double *gt = GT + (Py_ssize_t)indices[p] * c;
        for (Py_ssize_t k = 0; k < c; k++) gt[k] += (double)(v * q[k]);
    }
    if (gb != NULL)
        for (Py_ssize_t k = 0; k < c; k++) gb[k] += (double)q[k];
}

/* CSR loss (and gradient when GT is not NULL) sums over n rows.
 * WT (d, c) C order: the coefficients feature by feature, so that a stored
 * entry x_ij touches one contiguous row of c numbers; GT (d, c) is added to the
 * same way; scratch holds 2c + 1. Returns -1 on a label or column index out of
 * range or a decreasing indptr, else 0. */
static int CSR(csr_loss_grad)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                              Py_ssize_t n, Py_ssize_t d, const int64_t *y, const REAL *w,
                              const REAL *WT, const REAL *b, Py_ssize_t c, double *loss,
                              double *GT, double *gb, REAL *scratch)
{
    REAL *a = scratch, *e = a + c, *m = e + c;
    const INDEX end = indptr[n];
    double total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= c) return -1;
        if (CSR(csr_row_logits)(data, indices, indptr, i, end, d, WT, NULL, b, NULL, c, a))
            return -1;
        FN(shifted_exp)(a, 1, c, c, m, e);
        total += FN(rows_loss)(a, c, m, e, 1, c, y + i, w ? w + i : NULL, GT != NULL);
        if (GT != NULL) CSR(csr_row_backward)(data, indices, indptr, i, end, d, e, c, GT, gb);
    }
    *loss = total;
    return 0;
}

/* CSR Hessian-product sums at the point WT (d, c) in the direction VT (d, c), both
 * C order; b and bv (c) or NULL. GT (d, c), gb (c) or NULL are added to; scratch
 * holds 3c + 1. Returns -1 on a column index out of range or a decreasing indptr, else 0. */
static int CSR(csr_hessp)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                          Py_ssize_t n, Py_ssize_t d, const REAL *w, const REAL *WT,
                          const REAL *VT, const REAL *b, const REAL *bv, Py_ssize_t c,
                          double *GT, double *gb, REAL *scratch)
{
    REAL *a = scratch, *e = a + 2 * c, *m = e + c;
    const INDEX end = indptr[n];
    for (Py_ssize_t i = 0; i < n; i++) {
        if (CSR(csr_row_logits)(data, indices, indptr, i, end, d, WT, VT, b, bv, c, a)) return -1;
        FN(shifted_exp)(a, 1, c, 2 * c, m, e);
        FN(rows_curvature)(e, a + c, 2 * c, 1, c, w ? w + i : NULL);
        CSR(csr_row_backward)(data, indices, indptr, i, end, d, e, c, GT, gb);
    }
    return 0;
}

/* The same sums with X given by columns (CSC: indptr (d + 1), indices = row
 * numbers), for wide X with many classes: there the rows of WT that a CSR row
 * needs are scattered over more memory than the caches hold, and every stored
 * entry waits on memory for c coefficients. Taken by columns, WT and GT are
 * read and written once, in order, and the random accesses go to the block's
 * logits A (n, width), which are smaller than WT when the block has fewer
 * rows than X has columns.
 *
 * CSR(csc_forward): A[i, :c] += x_ij WT[j, :] (and A[i, c:2c] += x_ij VT[j, :]
 * when VT is not NULL) for every stored entry; A has row stride lda. Returns
 * -1 on a row index out of range or a decreasing indptr, else 0. */
INLINE int CSR(csc_forward)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                            Py_ssize_t n, Py_ssize_t d, const REAL *WT, const REAL *VT,
                            Py_ssize_t c, REAL *A, Py_ssize_t lda)
{
    const INDEX end = indptr[d];
    for (Py_ssize_t j = 0; j < d; j++) {
        if (indptr[j] > indptr[j + 1]) return -1;
        const REAL *wt = WT + j * c, *vt = VT == NULL ? NULL : VT + j * c;
        for (INDEX p = indptr[j]; p < indptr[j + 1]; p++) {
            INDEX i = indices[p];
            if (i < 0 || i >= n) return -1;
            CSR(prefetch_row)(indices, p + CSR_PREFETCH_DISTANCE, end, n, A, lda * sizeof(REAL));
            REAL v = data[p], *a = A + (Py_ssize_t)i * lda;
            for (Py_ssize_t k = 0; k < c; k++) a[k] += v * wt[k];
            if (vt != NULL)
                for (Py_ssize_t k = 0; k < c; k++) a[c + k] += v * vt[k];
        }
    }
    return 0;
}

/* GT (d, c) += X^T R and gb += column sums of R, R (n, c) with row stride lda,
 * X by columns (checked by CSR(csc_forward) before). */
INLINE void CSR(csc_backward)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                              Py_ssize_t n, Py_ssize_t d, const REAL *R, Py_ssize_t c,
                              Py_ssize_t lda, double *sum, double *GT, double *gb)
{
    const INDEX end = indptr[d];
    for (Py_ssize_t j = 0; j < d; j++) {
        for (Py_ssize_t k = 0; k < c; k++) sum[k] = 0;
        for (INDEX p = indptr[j]; p < indptr[j + 1]; p++) {
            CSR(prefetch_row)(indices, p + CSR_PREFETCH_DISTANCE, end, n, R, lda * sizeof(REAL));
            const REAL v = data[p], *r = R + (Py_ssize_t)indices[p] * lda;
            for (Py_ssize_t k = 0; k < c; k++) sum[k] += (double)(v * r[k]);
        }
        double *gt = GT + j * c;
        for (Py_ssize_t k = 0; k < c; k++) gt[k] += sum[k];
    }
    if (gb != NULL)
        for (Py_ssize_t i = 0; i < n; i++)
            for (Py_ssize_t k = 0; k < c; k++) gb[k] += (double)R[i * lda + k];
}

/* CSR(csr_loss_grad) on X by columns. scratch holds n c + c + 1 REAL, sum c double. */
static int CSR(csc_loss_grad)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                              Py_ssize_t n, Py_ssize_t d, const int64_t *y, const REAL *w,
                              const REAL *WT, const REAL *b, Py_ssize_t c, double *loss,
                              double *GT, double *gb, REAL *scratch, double *sum)
{
    REAL *A = scratch, *e = A + n * c, *m = e + c;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= c) return -1;
        for (Py_ssize_t k = 0; k < c; k++) A[i * c + k] = b == NULL ? 0 : b[k];
    }
    if (CSR(csc_forward)(data, indices, indptr, n, d, WT, NULL, c, A, c)) return -1;
    double total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        REAL *a = A + i * c;
        FN(shifted_exp)(a, 1, c, c, m, e);
        total += FN(rows_loss)(a, c, m, e, 1, c, y + i, w ? w + i : NULL, GT != NULL);
        if (GT != NULL) memcpy(a, e, (size_t)c * sizeof(REAL)); /* the residual, in place */
    }
    if (GT != NULL) CSR(csc_backward)(data, indices, indptr, n, d, A, c, c, sum, GT, gb);
    *loss = total;
    return 0;
}

/* CSR(csr_hessp) on X by columns, with the point's WT (d, c) and the direction's
 * VT (d, c) apart; b and bv (c) or NULL. scratch holds 2 n c + c + 1 REAL, sum c double. */
static int CSR(csc_hessp)(const REAL *data, const INDEX *indices, const INDEX *indptr,
                          Py_ssize_t n, Py_ssize_t d, const REAL *w, const REAL *WT,
                          const REAL *VT, const REAL *b, const REAL *bv, Py_ssize_t c,
                          double *GT, double *gb, REAL *scratch, double *sum)
{
    REAL *A = scratch, *e = A + 2 * n * c, *m = e + c;
    for (Py_ssize_t i = 0; i < n; i++)
        for (Py_ssize_t k = 0; k < c; k++) {
            A[i * 2 * c + k] = b == NULL ? 0 : b[k];
            A[i * 2 * c + c + k] = bv == NULL ? 0 : bv[k];
        }
    if (CSR(csc_forward)(data, indices, indptr, n, d, WT, VT, c, A, 2 * c)) return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        REAL *a = A + i * 2 * c;
        FN(shifted_exp)(a, 1, c, c, m, e);
        FN(rows_curvature)(e, a + c, 2 * c, 1, c, w ? w + i : NULL);
        memcpy(a, e, (size_t)c * sizeof(REAL));
    }
    CSR(csc_backward)(data, indices, indptr, n, d, A, c, 2 * c, sum, GT, gb);
    return 0;
}
#endif
