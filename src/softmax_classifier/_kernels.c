/* softmax_classifier._kernels: fused, compiled block kernels for the objective.
 *
 * Each function computes, on one block of rows, exactly the block sums of the
 * NumPy formula of the same meaning in math.py (the readable reference, which
 * the tests compare these with): the loss, its gradient and the Hessian-vector
 * product. The work is in _kernels_body.h; this file checks the arguments
 * (shapes, dtypes, memory order: a wrong call raises ValueError, it never
 * reads out of bounds) and releases the GIL while a kernel runs, so the data
 * sources' threads run blocks in parallel.
 *
 * Arrays arrive through the buffer protocol (NumPy arrays, C order); no NumPy
 * headers are needed to build.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The kernels are compiled twice, for the x86-64 baseline and for AVX2 with
 * FMA (GCC's target pragma, x86-64 only); the module picks one when it is
 * imported, from what the CPU supports. Everything a kernel calls is inlined
 * into it, so the whole kernel is compiled for its target. */
#define INLINE static inline __attribute__((always_inline))
#define CAT_(a, b, c) a##b##c
#define CAT(a, b, c) CAT_(a, b, c)

#define VARIANT _base
#include "_kernels_types.h"
#undef VARIANT

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define HAVE_AVX2_VARIANT 1
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#define VARIANT _avx2
#include "_kernels_types.h"
#undef VARIANT
#pragma GCC pop_options
#else
#define HAVE_AVX2_VARIANT 0
#endif

/* Which variant runs: chosen once at import, from the CPU. */
static int use_avx2 = 0;

static const char *choose_variant(void)
{
#if HAVE_AVX2_VARIANT
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return use_avx2 ? "avx2" : "baseline";
}

/* CALL(f, (args)): kernel f of the chosen variant. */
#if HAVE_AVX2_VARIANT
#define CALL(f, args) (use_avx2 ? f##_avx2 args : f##_base args)
#else
#define CALL(f, args) (f##_base args)
#endif

/* Rows per tile: the tile of X (rows x d) should stay in a core's L2 cache
 * between its forward and backward products. */
/* Classes padded for the narrow-X logits, or 0 to use the dot-product form.
 * Per row, the dot products cost about c (d / VLEN + 8) vector operations (the
 * 8 for summing each product's lanes), the narrow form d ceil(c / VLEN), or
 * twice that when the padded W^T (d, cp) does not fit in 16 KiB of L1: its
 * vectors then come from L2, which feeds about one per cycle. (Measured
 * faster: narrow on letter's 16 x 26 and digits' 64 x 10, dot products on
 * Fashion-MNIST's 784 x 10 and on 500 x 20.) */
static Py_ssize_t narrow_classes(Py_ssize_t d, Py_ssize_t c, size_t itemsize)
{
    Py_ssize_t vlen = 32 / (Py_ssize_t)itemsize, vectors = (c + vlen - 1) / vlen;
    double dot = (double)c * ((double)d / (double)vlen + 8);
    double narrow = (double)d * (double)vectors;
    if ((size_t)(d * vectors * vlen) * itemsize > 16 * 1024) narrow *= 2;
    return narrow < dot ? vectors * vlen : 0;
}

static Py_ssize_t tile_rows(Py_ssize_t d, size_t itemsize)
{
    Py_ssize_t rows = (96 * 1024) / ((Py_ssize_t)itemsize * (d > 0 ? d : 1));
    return rows < 8 ? 8 : (rows > 256 ? 256 : rows);
}

/* ---------------------------------------------------------------------------
 * Argument checking
 * ------------------------------------------------------------------------- */

enum kind { KIND_F32, KIND_F64, KIND_I32, KIND_I64, KIND_OTHER };

static enum kind buffer_kind(const Py_buffer *view)
{
    const char *f = view->format == NULL ? "B" : view->format;
    if (*f == '<' || *f == '=' || *f == '@') f++;
    if (f[1] != '\0') return KIND_OTHER;
    if (*f == 'f' && view->itemsize == 4) return KIND_F32;
    if (*f == 'd' && view->itemsize == 8) return KIND_F64;
    if ((*f == 'i' || *f == 'l') && view->itemsize == 4) return KIND_I32;
    if ((*f == 'l' || *f == 'q') && view->itemsize == 8) return KIND_I64;
    return KIND_OTHER;
}

/* The buffers of one call, released together. */
#define MAX_BUFFERS 10
typedef struct {
    Py_buffer views[MAX_BUFFERS];
    int n;
} buffers;

static void release(buffers *bufs)
{
    for (int i = 0; i < bufs->n; i++) PyBuffer_Release(&bufs->views[i]);
    bufs->n = 0;
}

/* A C-contiguous buffer of `kind` with `ndim` dimensions (shape written to
 * `shape`), or NULL data for None when `optional`. Returns the data pointer,
 * or NULL with an exception set (check PyErr_Occurred when optional). */
static void *take(buffers *bufs, PyObject *obj, const char *name, enum kind kind, int ndim,
                  Py_ssize_t *shape, int writable, int optional)
{
    if (obj == Py_None) {
        if (optional) return NULL;
        PyErr_Format(PyExc_ValueError, "%s: None is not allowed", name);
        return NULL;
    }
    Py_buffer *view = &bufs->views[bufs->n];
    int flags = PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | (writable ? PyBUF_WRITABLE : 0);
    if (PyObject_GetBuffer(obj, view, flags) < 0) return NULL;
    bufs->n++;
    if (buffer_kind(view) != kind) {
        PyErr_Format(PyExc_ValueError, "%s: wrong dtype (format '%s')", name,
                     view->format ? view->format : "B");
        return NULL;
    }
    if (view->ndim != ndim) {
        PyErr_Format(PyExc_ValueError, "%s: expected %d dimensions, got %d", name, ndim,
                     view->ndim);
        return NULL;
    }
    for (int i = 0; i < ndim; i++) shape[i] = view->shape[i];
    /* A non-NULL pointer even for empty arrays, so NULL always means None. */
    return view->len == 0 ? (void *)bufs : view->buf;
}

/* take() for a buffer that may be of either of two kinds (float32 or float64
 * data, int32 or int64 indices): the kind found goes to *found. */
static void *take_either(buffers *bufs, PyObject *obj, const char *name, enum kind first,
                         enum kind second, int ndim, Py_ssize_t *shape, enum kind *found)
{
    int before = bufs->n;
    *found = first;
    void *data = take(bufs, obj, name, first, ndim, shape, 0, 0);
    if (data != NULL) return data;
    PyErr_Clear();
    if (bufs->n > before) { /* the view was taken but had the other kind */
        PyBuffer_Release(&bufs->views[before]);
        bufs->n = before;
    }
    *found = second;
    return take(bufs, obj, name, second, ndim, shape, 0, 0);
}

/* X of the dense kernels: a 2-D float32/float64 buffer whose rows are each
 * contiguous and *ldx elements apart (a C-ordered array, or a slice of the
 * columns of one: no copy is needed). Returns the data pointer, or NULL with
 * an exception set. */
static void *take_rows(buffers *bufs, PyObject *obj, Py_ssize_t *shape, enum kind *real,
                       Py_ssize_t *ldx)
{
    Py_buffer *view = &bufs->views[bufs->n];
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) return NULL;
    bufs->n++;
    *real = buffer_kind(view);
    if (*real != KIND_F32 && *real != KIND_F64) {
        PyErr_Format(PyExc_ValueError, "X: wrong dtype (format '%s')",
                     view->format ? view->format : "B");
        return NULL;
    }
    if (view->ndim != 2) {
        PyErr_Format(PyExc_ValueError, "X: expected 2 dimensions, got %d", view->ndim);
        return NULL;
    }
    Py_ssize_t item = view->itemsize, row = view->strides[0];
    shape[0] = view->shape[0];
    shape[1] = view->shape[1];
    if ((shape[1] > 1 && view->strides[1] != item) ||
        (shape[0] > 1 && (row < shape[1] * item || row % item != 0))) {
        PyErr_SetString(PyExc_ValueError,
                        "X: each row must be contiguous, rows in increasing order (C order, "
                        "or columns sliced from a C-ordered array)");
        return NULL;
    }
    *ldx = shape[0] > 1 ? row / item : shape[1];
    return view->len == 0 ? (void *)bufs : view->buf;
}

static int expect(int ok, const char *message)
{
    if (!ok) PyErr_SetString(PyExc_ValueError, message);
    return ok;
}

/* ---------------------------------------------------------------------------
 * Dense kernels
 * ------------------------------------------------------------------------- */

PyDoc_STRVAR(dense_loss_grad_doc,
             "dense_loss_grad(X, y, w, W, b, G, gb) -> float\n\n"
             "Block sums of the loss and (when G is not None) its gradient on dense rows.\n\n"
             "X (n, d) float32/float64 C order; y (n,) int64 class indices; w (n,) or None;\n"
             "W (c, d) and b (c,) or None in X's dtype; G (c, d) float64 and gb (c,) float64\n"
             "or None, added to in place. Returns sum_k w_k CE_k as a float.");

static PyObject *dense_loss_grad(PyObject *self, PyObject *args)
{
    PyObject *oX, *oy, *ow, *oW, *ob, *oG, *ogb;
    if (!PyArg_ParseTuple(args, "OOOOOOO", &oX, &oy, &ow, &oW, &ob, &oG, &ogb)) return NULL;
    buffers bufs = {.n = 0};
    Py_ssize_t sX[2], sy[1], sw[1], sW[2], sb[1], sG[2], sgb[1];
    PyObject *result = NULL;
    enum kind real;
    Py_ssize_t ldx;
    void *X = take_rows(&bufs, oX, sX, &real, &ldx);
    if (X == NULL) goto done;
    Py_ssize_t n = sX[0], d = sX[1];
    int64_t *y = take(&bufs, oy, "y", KIND_I64, 1, sy, 0, 0);
    if (y == NULL) goto done;
    void *w = take(&bufs, ow, "w", real, 1, sw, 0, 1);
    if (PyErr_Occurred()) goto done;
    void *W = take(&bufs, oW, "W", real, 2, sW, 0, 0);
    if (W == NULL) goto done;
    Py_ssize_t c = sW[0];
    void *b = take(&bufs, ob, "b", real, 1, sb, 0, 1);
    if (PyErr_Occurred()) goto done;
    double *G = take(&bufs, oG, "G", KIND_F64, 2, sG, 1, 1);
    if (PyErr_Occurred()) goto done;
    double *gb = take(&bufs, ogb, "gb", KIND_F64, 1, sgb, 1, 1);
    if (PyErr_Occurred()) goto done;
    if (!expect(sy[0] == n && (w == NULL || sw[0] == n), "y and w must have X's rows") ||
        !expect(sW[1] == d && c >= 1, "W must be (n_classes >= 1, n_features)") ||
        !expect(b == NULL || sb[0] == c, "b must have n_classes entries") ||
        !expect(G == NULL || (sG[0] == c && sG[1] == d), "G must have W's shape") ||
        !expect(gb == NULL || (G != NULL && sgb[0] == c), "gb must have n_classes entries"))
        goto done;
    size_t itemsize = real == KIND_F32 ? 4 : 8;
    Py_ssize_t tile = tile_rows(d, itemsize), cp = narrow_classes(d, c, itemsize);
    void *scratch = malloc((size_t)(tile * (2 * c + 1) + d * cp) * itemsize);
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    double loss = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS;
    if (real == KIND_F32)
        status = CALL(dense_loss_grad_f32,
                      (X, ldx, n, d, y, w, W, b, c, &loss, G, gb, tile, scratch,
                       cp ? (float *)scratch + tile * (2 * c + 1) : NULL, cp));
    else
        status = CALL(dense_loss_grad_f64,
                      (X, ldx, n, d, y, w, W, b, c, &loss, G, gb, tile, scratch,
                       cp ? (double *)scratch + tile * (2 * c + 1) : NULL, cp));
    Py_END_ALLOW_THREADS;
    free(scratch);
    if (expect(status == 0, "y holds a class index outside 0 .. n_classes - 1"))
        result = PyFloat_FromDouble(loss);
done:
    release(&bufs);
    return result;
}

PyDoc_STRVAR(dense_hessp_doc,
             "dense_hessp(X, w, WV, bv, G, gb) -> None\n\n"
             "Block sums of the Hessian-vector product on dense rows.\n\n"
             "X (n, d); w (n,) or None; WV (2c, d): the point's coef then the direction's;\n"
             "bv (2c,) or None: intercept then its direction; G (c, d) and gb (c,) or None,\n"
             "float64, added to in place.");

static PyObject *dense_hessp(PyObject *self, PyObject *args)
{
    PyObject *oX, *ow, *oWV, *obv, *oG, *ogb;
    if (!PyArg_ParseTuple(args, "OOOOOO", &oX, &ow, &oWV, &obv, &oG, &ogb)) return NULL;
    buffers bufs = {.n = 0};
    Py_ssize_t sX[2], sw[1], sWV[2], sbv[1], sG[2], sgb[1];
    PyObject *result = NULL;
    enum kind real;
    Py_ssize_t ldx;
    void *X = take_rows(&bufs, oX, sX, &real, &ldx);
    if (X == NULL) goto done;
    Py_ssize_t n = sX[0], d = sX[1];
    void *w = take(&bufs, ow, "w", real, 1, sw, 0, 1);
    if (PyErr_Occurred()) goto done;
    void *WV = take(&bufs, oWV, "WV", real, 2, sWV, 0, 0);
    if (WV == NULL) goto done;
    Py_ssize_t c = sWV[0] / 2;
    void *bv = take(&bufs, obv, "bv", real, 1, sbv, 0, 1);
    if (PyErr_Occurred()) goto done;
    double *G = take(&bufs, oG, "G", KIND_F64, 2, sG, 1, 0);
    if (G == NULL) goto done;
    double *gb = take(&bufs, ogb, "gb", KIND_F64, 1, sgb, 1, 1);
    if (PyErr_Occurred()) goto done;
    if (!expect(w == NULL || sw[0] == n, "w must have X's rows") ||
        !expect(sWV[1] == d && c >= 1 && sWV[0] == 2 * c, "WV must be (2 n_classes, n_features)") ||
        !expect(bv == NULL || sbv[0] == 2 * c, "bv must have 2 n_classes entries") ||
        !expect(sG[0] == c && sG[1] == d, "G must be (n_classes, n_features)") ||
        !expect(gb == NULL || sgb[0] == c, "gb must have n_classes entries"))
        goto done;
    size_t itemsize = real == KIND_F32 ? 4 : 8;
    Py_ssize_t tile = tile_rows(d, itemsize), cp = narrow_classes(d, 2 * c, itemsize);
    void *scratch = malloc((size_t)(tile * (3 * c + 1) + d * cp) * itemsize);
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS;
    if (real == KIND_F32)
        CALL(dense_hessp_f32, (X, ldx, n, d, w, WV, bv, c, G, gb, tile, scratch,
                               cp ? (float *)scratch + tile * (3 * c + 1) : NULL, cp));
    else
        CALL(dense_hessp_f64, (X, ldx, n, d, w, WV, bv, c, G, gb, tile, scratch,
                               cp ? (double *)scratch + tile * (3 * c + 1) : NULL, cp));
    Py_END_ALLOW_THREADS;
    free(scratch);
    Py_INCREF(Py_None);
    result = Py_None;
done:
    release(&bufs);
    return result;
}

/* ---------------------------------------------------------------------------
 * CSR kernels
 * ------------------------------------------------------------------------- */

/* data, indices, indptr of a CSR block: kinds found, n rows; 0 or -1. */
static int take_csr(buffers *bufs, PyObject *odata, PyObject *oindices, PyObject *oindptr,
                    enum kind *real, enum kind *index, void **data, void **indices, void **indptr,
                    Py_ssize_t *n)
{
    Py_ssize_t sdata[1], sindices[1], sindptr[1];
    *data = take_either(bufs, odata, "data", KIND_F32, KIND_F64, 1, sdata, real);
    if (*data == NULL) return -1;
    *indices = take_either(bufs, oindices, "indices", KIND_I32, KIND_I64, 1, sindices, index);
    if (*indices == NULL) return -1;
    *indptr = take(bufs, oindptr, "indptr", *index, 1, sindptr, 0, 0);
    if (*indptr == NULL) return -1;
    *n = sindptr[0] - 1;
    if (!expect(*n >= 0 && sindices[0] == sdata[0], "data and indices must have equal length"))
        return -1;
    /* The kernels check every row's range against its neighbours; the ends here. */
    Py_ssize_t first_entry, last_entry;
    if (*index == KIND_I32) {
        first_entry = ((int32_t *)*indptr)[0];
        last_entry = ((int32_t *)*indptr)[*n];
    } else {
        first_entry = ((int64_t *)*indptr)[0];
        last_entry = ((int64_t *)*indptr)[*n];
    }
    return expect(first_entry == 0 && last_entry <= sdata[0], "indptr does not match data") ? 0
                                                                                            : -1;
}

/* The sparse kernels take X in CSR form (by rows: the 4th argument is
 * n_features) or in CSC form (by columns: the 4th argument is n_rows); the
 * CSC kernels are for wide X with many classes (see _kernels_body.h). */

/* csr_loss_grad (by_columns 0) and csc_loss_grad (by_columns 1). */
static PyObject *sparse_loss_grad(PyObject *args, int by_columns)
{
    PyObject *odata, *oindices, *oindptr, *oy, *ow, *oWT, *ob, *oGT, *ogb;
    Py_ssize_t minor, major, n, d;
    if (!PyArg_ParseTuple(args, "OOOnOOOOOO", &odata, &oindices, &oindptr, &minor, &oy, &ow,
                          &oWT, &ob, &oGT, &ogb))
        return NULL;
    buffers bufs = {.n = 0};
    Py_ssize_t sy[1], sw[1], sWT[2], sb[1], sGT[2], sgb[1];
    PyObject *result = NULL;
    enum kind real, index;
    void *data, *indices, *indptr;
    if (take_csr(&bufs, odata, oindices, oindptr, &real, &index, &data, &indices, &indptr, &major))
        goto done;
    n = by_columns ? minor : major;
    d = by_columns ? major : minor;
    int64_t *y = take(&bufs, oy, "y", KIND_I64, 1, sy, 0, 0);
    if (y == NULL) goto done;
    void *w = take(&bufs, ow, "w", real, 1, sw, 0, 1);
    if (PyErr_Occurred()) goto done;
    void *WT = take(&bufs, oWT, "WT", real, 2, sWT, 0, 0);
    if (WT == NULL) goto done;
    Py_ssize_t c = sWT[1];
    void *b = take(&bufs, ob, "b", real, 1, sb, 0, 1);
    if (PyErr_Occurred()) goto done;
    double *GT = take(&bufs, oGT, "GT", KIND_F64, 2, sGT, 1, 1);
    if (PyErr_Occurred()) goto done;
    double *gb = take(&bufs, ogb, "gb", KIND_F64, 1, sgb, 1, 1);
    if (PyErr_Occurred()) goto done;
    if (!expect(n >= 0 && sy[0] == n && (w == NULL || sw[0] == n), "y and w must have X's rows") ||
        !expect(sWT[0] == d && c >= 1, "WT must be (n_features, n_classes >= 1)") ||
        !expect(b == NULL || sb[0] == c, "b must have n_classes entries") ||
        !expect(GT == NULL || (sGT[0] == d && sGT[1] == c), "GT must have WT's shape") ||
        !expect(gb == NULL || (GT != NULL && sgb[0] == c), "gb must have n_classes entries"))
        goto done;
    size_t itemsize = real == KIND_F32 ? 4 : 8;
    void *scratch = malloc((size_t)((by_columns ? n * c : 0) + 2 * c + 1) * itemsize);
    double *sum = malloc((size_t)c * sizeof(double));
    if (scratch == NULL || sum == NULL) {
        free(scratch);
        free(sum);
        PyErr_NoMemory();
        goto done;
    }
    double loss = 0;
    int status;
    Py_BEGIN_ALLOW_THREADS;
#define ROWS (data, indices, indptr, n, d, y, w, WT, b, c, &loss, GT, gb, scratch)
#define COLUMNS (data, indices, indptr, n, d, y, w, WT, b, c, &loss, GT, gb, scratch, sum)
    if (by_columns && real == KIND_F32)
        status = index == KIND_I32 ? CALL(csc_loss_grad_f32_i32, COLUMNS)
                                   : CALL(csc_loss_grad_f32_i64, COLUMNS);
    else if (by_columns)
        status = index == KIND_I32 ? CALL(csc_loss_grad_f64_i32, COLUMNS)
                                   : CALL(csc_loss_grad_f64_i64, COLUMNS);
    else if (real == KIND_F32)
        status = index == KIND_I32 ? CALL(csr_loss_grad_f32_i32, ROWS)
                                   : CALL(csr_loss_grad_f32_i64, ROWS);
    else
        status = index == KIND_I32 ? CALL(csr_loss_grad_f64_i32, ROWS)
                                   : CALL(csr_loss_grad_f64_i64, ROWS);
#undef ROWS
#undef COLUMNS
    Py_END_ALLOW_THREADS;
    free(scratch);
    free(sum);
    if (expect(status == 0, "invalid sparse block: a class index or column/row index out of "
                            "range, or indptr decreasing"))
        result = PyFloat_FromDouble(loss);
done:
    release(&bufs);
    return result;
}

/* csr_hessp (by_columns 0) and csc_hessp (by_columns 1). */
static PyObject *sparse_hessp(PyObject *args, int by_columns)
{
    PyObject *odata, *oindices, *oindptr, *ow, *oWT, *oVT, *ob, *obv, *oGT, *ogb;
    Py_ssize_t minor, major, n, d;
    if (!PyArg_ParseTuple(args, "OOOnOOOOOOO", &odata, &oindices, &oindptr, &minor, &ow, &oWT,
                          &oVT, &ob, &obv, &oGT, &ogb))
        return NULL;
    buffers bufs = {.n = 0};
    Py_ssize_t sw[1], sWT[2], sVT[2], sb[1], sbv[1], sGT[2], sgb[1];
    PyObject *result = NULL;
    enum kind real, index;
    void *data, *indices, *indptr;
    if (take_csr(&bufs, odata, oindices, oindptr, &real, &index, &data, &indices, &indptr, &major))
        goto done;
    n = by_columns ? minor : major;
    d = by_columns ? major : minor;
    void *w = take(&bufs, ow, "w", real, 1, sw, 0, 1);
    if (PyErr_Occurred()) goto done;
    void *WT = take(&bufs, oWT, "WT", real, 2, sWT, 0, 0);
    if (WT == NULL) goto done;
    void *VT = take(&bufs, oVT, "VT", real, 2, sVT, 0, 0);
    if (VT == NULL) goto done;
    Py_ssize_t c = sWT[1];
    void *b = take(&bufs, ob, "b", real, 1, sb, 0, 1);
    if (PyErr_Occurred()) goto done;
    void *bv = take(&bufs, obv, "bv", real, 1, sbv, 0, 1);
    if (PyErr_Occurred()) goto done;
    double *GT = take(&bufs, oGT, "GT", KIND_F64, 2, sGT, 1, 0);
    if (GT == NULL) goto done;
    double *gb = take(&bufs, ogb, "gb", KIND_F64, 1, sgb, 1, 1);
    if (PyErr_Occurred()) goto done;
    if (!expect(n >= 0 && (w == NULL || sw[0] == n), "w must have X's rows") ||
        !expect(sWT[0] == d && c >= 1, "WT must be (n_features, n_classes >= 1)") ||
        !expect(sVT[0] == d && sVT[1] == c, "VT must have WT's shape") ||
        !expect((b == NULL) == (bv == NULL), "b and bv must be both given or both None") ||
        !expect(b == NULL || (sb[0] == c && sbv[0] == c), "b and bv must have n_classes entries") ||
        !expect(sGT[0] == d && sGT[1] == c, "GT must have WT's shape") ||
        !expect(gb == NULL || sgb[0] == c, "gb must have n_classes entries"))
        goto done;
    size_t itemsize = real == KIND_F32 ? 4 : 8;
    void *scratch = malloc((size_t)((by_columns ? 2 * n * c : 2 * c) + c + 1) * itemsize);
    double *sum = malloc((size_t)c * sizeof(double));
    if (scratch == NULL || sum == NULL) {
        free(scratch);
        free(sum);
        PyErr_NoMemory();
        goto done;
    }
    int status;
    Py_BEGIN_ALLOW_THREADS;
#define ROWS (data, indices, indptr, n, d, w, WT, VT, b, bv, c, GT, gb, scratch)
#define COLUMNS (data, indices, indptr, n, d, w, WT, VT, b, bv, c, GT, gb, scratch, sum)
    if (by_columns && real == KIND_F32)
        status = index == KIND_I32 ? CALL(csc_hessp_f32_i32, COLUMNS)
                                   : CALL(csc_hessp_f32_i64, COLUMNS);
    else if (by_columns)
        status = index == KIND_I32 ? CALL(csc_hessp_f64_i32, COLUMNS)
                                   : CALL(csc_hessp_f64_i64, COLUMNS);
    else if (real == KIND_F32)
        status = index == KIND_I32 ? CALL(csr_hessp_f32_i32, ROWS) : CALL(csr_hessp_f32_i64, ROWS);
    else
        status = index == KIND_I32 ? CALL(csr_hessp_f64_i32, ROWS) : CALL(csr_hessp_f64_i64, ROWS);
#undef ROWS
#undef COLUMNS
    Py_END_ALLOW_THREADS;
    free(scratch);
    free(sum);
    if (expect(status == 0, "invalid sparse block: a column/row index out of range or indptr "
                            "decreasing")) {
        Py_INCREF(Py_None);
        result = Py_None;
    }
done:
    release(&bufs);
    return result;
}

PyDoc_STRVAR(csr_loss_grad_doc,
             "csr_loss_grad(data, indices, indptr, n_features, y, w, WT, b, GT, gb) -> float\n\n"
             "Block sums of the loss and (when GT is not None) its gradient on CSR rows.\n\n"
             "WT (d, c) in data's dtype: coef transposed, C order; GT (d, c) float64 and\n"
             "gb (c,) float64 or None, added to in place. Returns sum_k w_k CE_k.");

static PyObject *csr_loss_grad(PyObject *self, PyObject *args)
{
    return sparse_loss_grad(args, 0);
}

PyDoc_STRVAR(csc_loss_grad_doc,
             "csc_loss_grad(data, indices, indptr, n_rows, y, w, WT, b, GT, gb) -> float\n\n"
             "csr_loss_grad's sums with X by columns: data, indices (row numbers) and indptr\n"
             "(n_features + 1) of X in CSC form.");

static PyObject *csc_loss_grad(PyObject *self, PyObject *args)
{
    return sparse_loss_grad(args, 1);
}

PyDoc_STRVAR(csr_hessp_doc,
             "csr_hessp(data, indices, indptr, n_features, w, WT, VT, b, bv, GT, gb) -> None\n\n"
             "Block sums of the Hessian-vector product on CSR rows at the point WT (d, c) in\n"
             "the direction VT (d, c), both in data's dtype, C order; b and bv (c,) or both\n"
             "None; GT (d, c) and gb (c,) or None, float64, added to in place.");

static PyObject *csr_hessp(PyObject *self, PyObject *args)
{
    return sparse_hessp(args, 0);
}

PyDoc_STRVAR(csc_hessp_doc,
             "csc_hessp(data, indices, indptr, n_rows, w, WT, VT, b, bv, GT, gb) -> None\n\n"
             "csr_hessp's sums with X by columns (CSC, as csc_loss_grad).");

static PyObject *csc_hessp(PyObject *self, PyObject *args)
{
    return sparse_hessp(args, 1);
}

static PyMethodDef methods[] = {
    {"dense_loss_grad", dense_loss_grad, METH_VARARGS, dense_loss_grad_doc},
    {"dense_hessp", dense_hessp, METH_VARARGS, dense_hessp_doc},
    {"csr_loss_grad", csr_loss_grad, METH_VARARGS, csr_loss_grad_doc},
    {"csr_hessp", csr_hessp, METH_VARARGS, csr_hessp_doc},
    {"csc_loss_grad", csc_loss_grad, METH_VARARGS, csc_loss_grad_doc},
    {"csc_hessp", csc_hessp, METH_VARARGS, csc_hessp_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    "_kernels",
    "Fused compiled block kernels of the softmax objective (see softmax_classifier._fused).",
    -1,
    methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC PyInit__kernels(void)
{
    const char *variant = choose_variant();
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddStringConstant(m, "variant", variant) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
