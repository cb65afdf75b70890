/* softmax_classifier._cd: coordinate descent on the Newton model of a penalised fit.
 *
 * One call minimises, over a direction (D, delta) of the coefficients and
 * intercepts, the quadratic model of the smooth part plus the exact
 * non-smooth penalty at W + D:
 *
 *   q(D, delta) = <G, D> + <g_b, delta> + 1/2 sum_k s_k z_k^T (diag p_k - p_k p_k^T) z_k
 *                 + alpha2/2 ||D||^2 + h(W + D),      z_k = D x_k + delta,
 *
 * with h = lam * ||.||_1 (kind 0, one coordinate at a time, exact) or
 * h = lam * sum_j ||.[:, j]||_2 (kind 1, one feature's column of c
 * coefficients at a time, majorised by its curvature bound L_j). The state
 * Z = (z_k) (c x n) and m_k = sum_i p_ki z_ki (n) is kept up to date, so a
 * coordinate costs one pass over its column of X. Sweeps alternate between all
 * coordinates and the active ones (non-zero), glmnet's scheme, until a full
 * sweep changes no coordinate by more than tol in gradient units
 * (curvature x step).
 *
 * The readable reference, which tests compare this with, is
 * softmax_classifier._coordinate_descent.solve_reference: the same
 * arithmetic in the same order, in Python. Arrays are float64 and C-ordered
 * (buffer protocol); X is a dense column-major (n x d) block or CSC
 * (data, indices, indptr). The GIL is released while it runs.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    Py_ssize_t n, d, c;
    const double *xdata;    /* dense: column j at xdata + j * n; CSC: values */
    const int64_t *indices; /* CSC row indices, or NULL for dense */
    const int64_t *indptr;  /* CSC column starts, or NULL for dense */
    const double *s;        /* (n,) weights summing to 1 */
    const double *p;        /* (c, n) probabilities */
    const double *grad;     /* (c, d) smooth gradient at W */
    const double *grad_b;   /* (c,) intercept gradient, or NULL without intercept */
    const double *w;        /* (c, d) current coefficients */
    double alpha2, lam, tol;
    double *dir;            /* (c, d) direction D, updated */
    double *dir_b;          /* (c,) intercept direction, updated (NULL without) */
    double *z;              /* (c, n) logit changes, updated */
    double *m;              /* (n,) sum_i p_ki z_ki, updated */
    double *h;              /* (c, d) coordinate curvatures (kind 0) or (d,) bounds (kind 1) */
} Problem;

/* Column j as (first, last, values, rows): rows NULL means rows first..last-1. */
#define COLUMN(P, j, start, stop, vals, rows)                                   \
    do {                                                                        \
        if ((P)->indices) {                                                     \
            start = (P)->indptr[j];                                             \
            stop = (P)->indptr[(j) + 1];                                        \
            vals = (P)->xdata;                                                  \
            rows = (P)->indices;                                                \
        } else {                                                                \
            start = 0;                                                          \
            stop = (P)->n;                                                      \
            vals = (P)->xdata + (j) * (P)->n;                                   \
            rows = NULL;                                                        \
        }                                                                       \
    } while (0)

/* sum_k s_k x_kj p_ik (z_ik - m_k) over column j's rows. */
static double column_residual(const Problem *P, Py_ssize_t j, Py_ssize_t i)
{
    Py_ssize_t start, stop;
    const double *vals;
    const int64_t *rows;
    COLUMN(P, j, start, stop, vals, rows);
    const double *p = P->p + i * P->n, *z = P->z + i * P->n;
    double total = 0.0;
    if (rows) {
        for (Py_ssize_t q = start; q < stop; q++) {
            int64_t k = rows[q];
            total += P->s[k] * vals[q] * p[k] * (z[k] - P->m[k]);
        }
    } else {
        for (Py_ssize_t k = 0; k < stop; k++) total += P->s[k] * vals[k] * p[k] * (z[k] - P->m[k]);
    }
    return total;
}

/* z_i += step x_j; m += step p_i x_j. */
static void column_update(Problem *P, Py_ssize_t j, Py_ssize_t i, double step)
{
    Py_ssize_t start, stop;
    const double *vals;
    const int64_t *rows;
    COLUMN(P, j, start, stop, vals, rows);
    const double *p = P->p + i * P->n;
    double *z = P->z + i * P->n;
    if (rows) {
        for (Py_ssize_t q = start; q < stop; q++) {
            int64_t k = rows[q];
            double change = step * vals[q];
            z[k] += change;
            P->m[k] += change * p[k];
        }
    } else {
        for (Py_ssize_t k = 0; k < stop; k++) {
            double change = step * vals[k];
            z[k] += change;
            P->m[k] += change * p[k];
        }
    }
}

/* Curvatures: h_ij = sum_k s_k x_kj^2 p_ik (1 - p_ik) + alpha2 (kind 0), or
 * L_j = sum_k s_k x_kj^2 b_k + alpha2 (kind 1), which bounds the largest
 * eigenvalue of feature j's c x c block: the largest eigenvalue of
 * diag p - p p^T is at most b_k = min(max_i p_i, 2 max_i p_i (1 - p_i))
 * (it is below diag p; and by Gershgorin, row i's disc reaches
 * p_i - p_i^2 + p_i (1 - p_i)). The second is the tight one near certainty. */
static void curvatures(Problem *P, int kind, double *pmax)
{
    Py_ssize_t n = P->n, c = P->c;
    if (kind == 1) {
        for (Py_ssize_t k = 0; k < n; k++) {
            double top = 0.0, spread = 0.0;
            for (Py_ssize_t i = 0; i < c; i++) {
                double p = P->p[i * n + k];
                top = fmax(top, p);
                spread = fmax(spread, p * (1.0 - p));
            }
            pmax[k] = fmin(top, 2.0 * spread);
        }
    }
    for (Py_ssize_t j = 0; j < P->d; j++) {
        Py_ssize_t start, stop;
        const double *vals;
        const int64_t *rows;
        COLUMN(P, j, start, stop, vals, rows);
        if (kind == 1) {
            double total = 0.0;
            for (Py_ssize_t q = start; q < stop; q++) {
                Py_ssize_t k = rows ? rows[q] : q;
                total += P->s[k] * vals[q] * vals[q] * pmax[k];
            }
            P->h[j] = total + P->alpha2;
            continue;
        }
        for (Py_ssize_t i = 0; i < c; i++) {
            const double *p = P->p + i * n;
            double total = 0.0;
            for (Py_ssize_t q = start; q < stop; q++) {
                Py_ssize_t k = rows ? rows[q] : q;
                total += P->s[k] * vals[q] * vals[q] * p[k] * (1.0 - p[k]);
            }
            P->h[i * P->d + j] = total + P->alpha2;
        }
    }
}

static double soft(double v, double t) { return v > t ? v - t : (v < -t ? v + t : 0.0); }

/* Coordinate (i, j) of the L1 problem; returns curvature x |step|. */
static double update_l1(Problem *P, Py_ssize_t i, Py_ssize_t j, char *active)
{
    Py_ssize_t at = i * P->d + j;
    double curv = P->h[at];
    double u = P->w[at] + P->dir[at];
    double slope = P->grad[at] + column_residual(P, j, i) + P->alpha2 * P->dir[at];
    double target = curv > 0 ? soft(u - slope / curv, P->lam / curv) : 0.0;
    if (!(curv > 0) && fabs(slope) > P->lam) return 0.0; /* flat but sloped: leave it */
    double step = target - u;
    active[at] = target != 0.0;
    if (step == 0.0) return 0.0;
    P->dir[at] += step;
    column_update(P, j, i, step);
    return curv > 0 ? curv * fabs(step) : fabs(step);
}

/* Feature j's column of the group problem; returns L_j x max|step|. */
static double update_group(Problem *P, Py_ssize_t j, char *active, double *slope, double *step)
{
    Py_ssize_t c = P->c, d = P->d;
    double bound = P->h[j], norm = 0.0;
    for (Py_ssize_t i = 0; i < c; i++) {
        Py_ssize_t at = i * d + j;
        slope[i] = P->grad[at] + column_residual(P, j, i) + P->alpha2 * P->dir[at];
    }
    if (!(bound > 0)) return 0.0; /* an all-zero column with alpha2 = 0 */
    for (Py_ssize_t i = 0; i < c; i++) {
        Py_ssize_t at = i * d + j;
        step[i] = P->w[at] + P->dir[at] - slope[i] / bound; /* the gradient step, v */
        norm += step[i] * step[i];
    }
    norm = sqrt(norm);
    double shrink = norm > P->lam / bound ? 1.0 - P->lam / (bound * norm) : 0.0;
    double largest = 0.0;
    active[j] = shrink > 0.0;
    for (Py_ssize_t i = 0; i < c; i++) {
        Py_ssize_t at = i * d + j;
        double change = shrink * step[i] - (P->w[at] + P->dir[at]);
        if (change == 0.0) continue;
        P->dir[at] += change;
        column_update(P, j, i, change);
        largest = fmax(largest, fabs(change));
    }
    return bound * largest;
}

/* Intercept i: an exact Newton step on the model; returns |slope|. */
static double update_intercept(Problem *P, Py_ssize_t i)
{
    Py_ssize_t n = P->n;
    const double *p = P->p + i * n;
    double *z = P->z + i * n, slope = P->grad_b[i], curv = 0.0;
    for (Py_ssize_t k = 0; k < n; k++) {
        slope += P->s[k] * p[k] * (z[k] - P->m[k]);
        curv += P->s[k] * p[k] * (1.0 - p[k]);
    }
    if (!(curv > 0)) return 0.0;
    double step = -slope / curv;
    P->dir_b[i] += step;
    for (Py_ssize_t k = 0; k < n; k++) {
        z[k] += step;
        P->m[k] += step * p[k];
    }
    return fabs(slope);
}

/* Sweeps until a full sweep's largest change is below tol, or max_sweeps. */
static Py_ssize_t solve(Problem *P, int kind, Py_ssize_t max_sweeps, char *active, double *work)
{
    Py_ssize_t c = P->c, d = P->d, sweeps = 0;
    int full = 1;
    while (sweeps < max_sweeps) {
        double largest = 0.0;
        for (Py_ssize_t j = 0; j < d; j++) {
            if (kind == 1) {
                if (full || active[j]) largest = fmax(largest, update_group(P, j, active, work, work + c));
                continue;
            }
            for (Py_ssize_t i = 0; i < c; i++)
                if (full || active[i * d + j]) largest = fmax(largest, update_l1(P, i, j, active));
        }
        if (P->dir_b)
            for (Py_ssize_t i = 0; i < c; i++) largest = fmax(largest, update_intercept(P, i));
        sweeps++;
        if (largest <= P->tol) {
            if (full) break; /* a full sweep moved nothing: the model's optimum */
            full = 1;        /* the active set settled: check every coordinate */
        } else {
            full = 0;
        }
    }
    return sweeps;
}

typedef struct {
    Py_buffer b;
    int held;
} Buf;

static int get(PyObject *obj, Buf *out, int writable, Py_ssize_t count, const char *name)
{
    out->held = 0;
    if (obj == Py_None) return 1;
    if (PyObject_GetBuffer(obj, &out->b, (writable ? PyBUF_WRITABLE : 0) | PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return 0;
    out->held = 1;
    if (count >= 0 && out->b.len != count * 8) {
        PyErr_Format(PyExc_ValueError, "%s has %zd bytes; expected %zd", name, out->b.len, count * 8);
        return 0;
    }
    return 1;
}

static PyObject *py_solve(PyObject *self, PyObject *args)
{
    (void)self;
    int kind;
    Py_ssize_t n, d, c, max_sweeps;
    double alpha2, lam, tol;
    PyObject *o[14];
    if (!PyArg_ParseTuple(args, "innnOOOOOOOOOOOOOOdddn", &kind, &n, &d, &c, &o[0], &o[1], &o[2], &o[3],
                          &o[4], &o[5], &o[6], &o[7], &o[8], &o[9], &o[10], &o[11], &o[12], &o[13],
                          &alpha2, &lam, &tol, &max_sweeps))
        return NULL;
    if ((kind != 0 && kind != 1) || n < 0 || d < 0 || c < 1 || max_sweeps < 0) {
        PyErr_SetString(PyExc_ValueError, "bad kind or sizes");
        return NULL;
    }
    int sparse = o[1] != Py_None;
    Py_ssize_t nnz = -1;
    Buf bx, bind, bptr, bs, bp, bg, bgb, bw, bdir, bdirb, bz, bm, bh, bact;
    Buf *all[14] = {&bx, &bind, &bptr, &bs, &bp, &bg, &bgb, &bw, &bdir, &bdirb, &bz, &bm, &bh, &bact};
    for (int k = 0; k < 14; k++) all[k]->held = 0;
    PyObject *result = NULL;
    if (!get(o[2], &bptr, 0, sparse ? d + 1 : -1, "indptr")) goto done;
    if (sparse) nnz = ((const int64_t *)bptr.b.buf)[d];
    if (!get(o[0], &bx, 0, sparse ? nnz : n * d, "X") || !get(o[1], &bind, 0, nnz, "indices") ||
        !get(o[3], &bs, 0, n, "s") || !get(o[4], &bp, 0, c * n, "proba") ||
        !get(o[5], &bg, 0, c * d, "grad") || !get(o[6], &bgb, 0, c, "grad_b") ||
        !get(o[7], &bw, 0, c * d, "coef") || !get(o[8], &bdir, 1, c * d, "direction") ||
        !get(o[9], &bdirb, 1, c, "direction_b") || !get(o[10], &bz, 1, c * n, "z") ||
        !get(o[11], &bm, 1, n, "m") || !get(o[12], &bh, 1, kind ? d : c * d, "curvature"))
        goto done;
    if (!get(o[13], &bact, 1, -1, "active")) goto done;
    if (bact.b.len != (kind ? d : c * d)) {
        PyErr_SetString(PyExc_ValueError, "active has the wrong size");
        goto done;
    }
    if ((o[6] == Py_None) != (o[9] == Py_None)) {
        PyErr_SetString(PyExc_ValueError, "grad_b and direction_b go together");
        goto done;
    }
    if (sparse) {
        const int64_t *ptr = bptr.b.buf, *ind = bind.b.buf;
        for (Py_ssize_t j = 0; j < d; j++)
            if (ptr[j] > ptr[j + 1] || ptr[j] < 0) {
                PyErr_SetString(PyExc_ValueError, "indptr is not non-decreasing");
                goto done;
            }
        for (Py_ssize_t q = 0; q < nnz; q++)
            if (ind[q] < 0 || ind[q] >= n) {
                PyErr_SetString(PyExc_ValueError, "a row index is out of range");
                goto done;
            }
    }
    Problem P = {n, d, c, bx.b.buf, sparse ? bind.b.buf : NULL, sparse ? bptr.b.buf : NULL,
                 bs.b.buf, bp.b.buf, bg.b.buf, bgb.held ? bgb.b.buf : NULL, bw.b.buf,
                 alpha2, lam, tol, bdir.b.buf, bdirb.held ? bdirb.b.buf : NULL, bz.b.buf, bm.b.buf, bh.b.buf};
    double *work = malloc(sizeof(double) * (size_t)(2 * c + n + 1));
    if (!work) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t sweeps;
    Py_BEGIN_ALLOW_THREADS
    curvatures(&P, kind, work + 2 * c);
    sweeps = solve(&P, kind, max_sweeps, bact.b.buf, work);
    Py_END_ALLOW_THREADS
    free(work);
    result = PyLong_FromSsize_t(sweeps);
done:
    for (int k = 0; k < 14; k++)
        if (all[k]->held) PyBuffer_Release(&all[k]->b);
    return result;
}

/* ---- The same model with its Hessian held explicitly (small c (d + 1)) ----------------
 *
 * H (P x P, P = c dt, dt = d + 1 with an intercept, index i dt + a) is the model's
 * Hessian, damping and alpha2 included; hd = H D is kept up to date, so a coordinate
 * costs O(P) instead of a pass over a column of X. Coordinates with a = d (when
 * with_intercept) are intercepts: unpenalised, an exact Newton step each, after each
 * sweep as in the column form. */
typedef struct {
    Py_ssize_t c, d, dt;
    int with_intercept;
    const double *hess, *grad, *w; /* (P, P), (P,), (P,): w's intercept entries unused */
    double lam, tol;
    double *dir, *hd, *bound; /* (P,), (P,), (d,) group bounds */
} Gram;

static void gram_move(Gram *G, Py_ssize_t k, double step)
{
    Py_ssize_t P = G->c * G->dt;
    const double *row = G->hess + k * P;
    G->dir[k] += step;
    for (Py_ssize_t q = 0; q < P; q++) G->hd[q] += step * row[q];
}

static double gram_l1(Gram *G, Py_ssize_t k, char *active)
{
    Py_ssize_t P = G->c * G->dt;
    double curv = G->hess[k * P + k], u = G->w[k] + G->dir[k];
    double slope = G->grad[k] + G->hd[k];
    if (!(curv > 0) && fabs(slope) > G->lam) return 0.0; /* flat but sloped: leave it */
    double target = curv > 0 ? soft(u - slope / curv, G->lam / curv) : 0.0, step = target - u;
    active[k] = target != 0.0;
    if (step == 0.0) return 0.0;
    gram_move(G, k, step);
    return curv > 0 ? curv * fabs(step) : fabs(step);
}

static double gram_group(Gram *G, Py_ssize_t a, char *active, double *v)
{
    Py_ssize_t c = G->c, dt = G->dt;
    double bound = G->bound[a], norm = 0.0, largest = 0.0;
    if (!(bound > 0)) return 0.0;
    for (Py_ssize_t i = 0; i < c; i++) {
        Py_ssize_t k = i * dt + a;
        v[i] = G->w[k] + G->dir[k] - (G->grad[k] + G->hd[k]) / bound;
        norm += v[i] * v[i];
    }
    norm = sqrt(norm);
    double shrink = norm > G->lam / bound ? 1.0 - G->lam / (bound * norm) : 0.0;
    active[a] = shrink > 0.0;
    for (Py_ssize_t i = 0; i < c; i++) {
        Py_ssize_t k = i * dt + a;
        double change = shrink * v[i] - (G->w[k] + G->dir[k]);
        if (change == 0.0) continue;
        gram_move(G, k, change);
        largest = fmax(largest, fabs(change));
    }
    return bound * largest;
}

static double gram_intercept(Gram *G, Py_ssize_t i)
{
    Py_ssize_t P = G->c * G->dt, k = i * G->dt + G->d;
    double curv = G->hess[k * P + k], slope = G->grad[k] + G->hd[k];
    if (!(curv > 0)) return 0.0;
    gram_move(G, k, -slope / curv);
    return fabs(slope);
}

static Py_ssize_t gram_solve(Gram *G, int kind, Py_ssize_t max_sweeps, char *active, double *work)
{
    Py_ssize_t c = G->c, d = G->d, dt = G->dt, P = c * dt, sweeps = 0;
    if (kind == 1) /* Gershgorin: the largest row sum of |block| bounds its top eigenvalue */
        for (Py_ssize_t a = 0; a < d; a++) {
            double top = 0.0;
            for (Py_ssize_t i = 0; i < c; i++) {
                double row = 0.0;
                for (Py_ssize_t l = 0; l < c; l++) row += fabs(G->hess[(i * dt + a) * P + l * dt + a]);
                top = fmax(top, row);
            }
            G->bound[a] = top;
        }
    int full = 1;
    while (sweeps < max_sweeps) {
        double largest = 0.0;
        for (Py_ssize_t a = 0; a < d; a++) {
            if (kind == 1) {
                if (full || active[a]) largest = fmax(largest, gram_group(G, a, active, work));
                continue;
            }
            for (Py_ssize_t i = 0; i < c; i++) {
                Py_ssize_t k = i * dt + a;
                if (full || active[k]) largest = fmax(largest, gram_l1(G, k, active));
            }
        }
        if (G->with_intercept)
            for (Py_ssize_t i = 0; i < c; i++) largest = fmax(largest, gram_intercept(G, i));
        sweeps++;
        if (largest <= G->tol) {
            if (full) break;
            full = 1;
        } else {
            full = 0;
        }
    }
    return sweeps;
}

static PyObject *py_solve_gram(PyObject *self, PyObject *args)
{
    (void)self;
    int kind, with_intercept;
    Py_ssize_t c, d, max_sweeps;
    double lam, tol;
    PyObject *o[7];
    if (!PyArg_ParseTuple(args, "innpOOOOOOOddn", &kind, &c, &d, &with_intercept, &o[0], &o[1],
                          &o[2], &o[3], &o[4], &o[5], &o[6], &lam, &tol, &max_sweeps))
        return NULL;
    if ((kind != 0 && kind != 1) || c < 1 || d < 0 || max_sweeps < 0) {
        PyErr_SetString(PyExc_ValueError, "bad kind or sizes");
        return NULL;
    }
    Py_ssize_t dt = d + (with_intercept ? 1 : 0), P = c * dt;
    Buf bh, bg, bw, bdir, bhd, bbound, bact;
    Buf *all[7] = {&bh, &bg, &bw, &bdir, &bhd, &bbound, &bact};
    for (int k = 0; k < 7; k++) all[k]->held = 0;
    PyObject *result = NULL;
    if (!get(o[0], &bh, 0, P * P, "hessian") || !get(o[1], &bg, 0, P, "grad") ||
        !get(o[2], &bw, 0, P, "coef") || !get(o[3], &bdir, 1, P, "direction") ||
        !get(o[4], &bhd, 1, P, "hd") || !get(o[5], &bbound, 1, d, "bound") ||
        !get(o[6], &bact, 1, -1, "active"))
        goto done;
    if (bact.b.len != (kind ? d : P)) {
        PyErr_SetString(PyExc_ValueError, "active has the wrong size");
        goto done;
    }
    Gram G = {c, d, dt, with_intercept, bh.b.buf, bg.b.buf, bw.b.buf, lam, tol,
              bdir.b.buf, bhd.b.buf, bbound.b.buf};
    double *work = malloc(sizeof(double) * (size_t)(c + 1));
    if (!work) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t sweeps;
    Py_BEGIN_ALLOW_THREADS
    sweeps = gram_solve(&G, kind, max_sweeps, bact.b.buf, work);
    Py_END_ALLOW_THREADS
    free(work);
    result = PyLong_FromSsize_t(sweeps);
done:
    for (int k = 0; k < 7; k++)
        if (all[k]->held) PyBuffer_Release(&all[k]->b);
    return result;
}

static PyMethodDef methods[] = {
    {"solve", py_solve, METH_VARARGS,
     "solve(kind, n, d, c, X, indices, indptr, s, proba, grad, grad_b, coef, direction, "
     "direction_b, z, m, curvature, active, alpha2, lam, tol, max_sweeps) -> sweeps\n\n"
     "Coordinate descent on the penalised Newton model (see "
     "softmax_classifier._coordinate_descent)."},
    {"solve_gram", py_solve_gram, METH_VARARGS,
     "solve_gram(kind, c, d, with_intercept, hessian, grad, coef, direction, hd, bound, "
     "active, lam, tol, max_sweeps) -> sweeps\n\n"
     "The same coordinate descent on the model with its Hessian held explicitly (see "
     "softmax_classifier._gram)."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_cd",
                                    "Coordinate descent on the penalised Newton model.", -1, methods};

PyMODINIT_FUNC PyInit__cd(void) { return PyModule_Create(&module); }
