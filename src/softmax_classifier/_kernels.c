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
#define CAT4_(a, b, c, d) a##b##c##d
#define CAT4(a, b, c, d) CAT4_(a, b, c, d)

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

/* Rows per tile: the tile of X (rows x d) should stay in a core's L2 cache
 * between its forward and backward products. */
static Py_ssize_t tile_rows(Py_ssize_t d, size_t itemsize)
{
    Py_ssize_t rows = (96 * 1024) / ((Py_ssize_t)itemsize * (d > 0 ? d : 1));
    return rows < 8 ? 8 : (rows > 256 ? 256 : rows);
}

/* ---------------------------------------------------------------------------
 * Taking the arrays
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

static int expect(int ok, const char *message)
{
    if (!ok) PyErr_SetString(PyExc_ValueError, message);
    return ok;
}

/* ---------------------------------------------------------------------------
 * One call of a kernel
 *
 * The six entry points differ in the form of X (dense rows; CSR, by rows; CSC,
 * by columns) and in what they compute (the loss and its gradient, or the
 * Hessian-vector product); run() takes the arguments of any of them, checks
 * them and calls the kernel of X's dtype (and index type).
 * ------------------------------------------------------------------------- */

enum form { DENSE, CSR_ROWS, CSC_COLUMNS };

/* The arguments after X, in the order the entry points take them: labels,
 * sample weights, the coefficients and their direction, the intercept and its
 * direction, the gradient (or Hessian product) added to and its intercept
 * part. Each entry point takes some of them, under the names of its row of
 * arg_names (NULL: not taken). */
enum { ARG_Y, ARG_W, ARG_COEF, ARG_DIR, ARG_B, ARG_BDIR, ARG_G, ARG_GB, N_ARGS };
static const char *const arg_names[4][N_ARGS] = {
    {"y", "w", "W", NULL, "b", NULL, "G", "gb"},      /* dense_loss_grad */
    {NULL, "w", "WV", NULL, "bv", NULL, "G", "gb"},   /* dense_hessp: WV (2c, d), bv (2c) */
    {"y", "w", "WT", NULL, "b", NULL, "GT", "gb"},    /* csr_loss_grad, csc_loss_grad */
    {NULL, "w", "WT", "VT", "b", "bv", "GT", "gb"},   /* csr_hessp, csc_hessp */
};

/* One call: what the entry point is, and its arrays once taken and checked. */
typedef struct {
    enum form form;
    int hessp;                  /* the Hessian product, else the loss (and gradient) */
    const char *const *names;   /* the row of arg_names */
    buffers bufs;
    enum kind real, index;      /* X's dtype; the sparse index arrays' */
    Py_ssize_t n, d, c, ldx;    /* rows, features, classes; dense X's row stride */
    void *X, *indices, *indptr; /* dense X, or the data of sparse X and its index arrays */
    void *arg[N_ARGS];          /* the other arguments' data, NULL for None or not taken */
} call;

/* X of the dense kernels: a 2-D float32/float64 buffer whose rows are each
 * contiguous and ldx elements apart (a C-ordered array, or a slice of the
 * columns of one: no copy is needed). Returns 0, or -1 with an exception set. */
static int take_dense(call *a, PyObject *obj)
{
    Py_buffer *view = &a->bufs.views[a->bufs.n];
    if (PyObject_GetBuffer(obj, view, PyBUF_STRIDES | PyBUF_FORMAT) < 0) return -1;
    a->bufs.n++;
    a->real = buffer_kind(view);
    if (a->real != KIND_F32 && a->real != KIND_F64) {
        PyErr_Format(PyExc_ValueError, "X: wrong dtype (format '%s')",
                     view->format ? view->format : "B");
        return -1;
    }
    if (view->ndim != 2) {
        PyErr_Format(PyExc_ValueError, "X: expected 2 dimensions, got %d", view->ndim);
        return -1;
    }
    Py_ssize_t item = view->itemsize, row = view->strides[0];
    a->n = view->shape[0];
    a->d = view->shape[1];
    if ((a->d > 1 && view->strides[1] != item) ||
        (a->n > 1 && (row < a->d * item || row % item != 0))) {
        PyErr_SetString(PyExc_ValueError,
                        "X: each row must be contiguous, rows in increasing order (C order, "
                        "or columns sliced from a C-ordered array)");
        return -1;
    }
    a->ldx = a->n > 1 ? row / item : a->d;
    a->X = view->len == 0 ? (void *)&a->bufs : view->buf;
    return 0;
}

/* data, indices, indptr of sparse X, and `minor`: n_features for CSR, n_rows
 * for CSC (indptr gives the other). Returns 0, or -1 with an exception set. */
static int take_sparse(call *a, PyObject *const *items)
{
    Py_ssize_t sdata[1], sindices[1], sindptr[1];
    Py_ssize_t minor = PyNumber_AsSsize_t(items[3], PyExc_OverflowError);
    if ((minor == -1 && PyErr_Occurred()) || !expect(minor >= 0, "n_features or n_rows < 0"))
        return -1;
    a->X = take_either(&a->bufs, items[0], "data", KIND_F32, KIND_F64, 1, sdata, &a->real);
    if (a->X == NULL) return -1;
    a->indices = take_either(&a->bufs, items[1], "indices", KIND_I32, KIND_I64, 1, sindices,
                             &a->index);
    if (a->indices == NULL) return -1;
    a->indptr = take(&a->bufs, items[2], "indptr", a->index, 1, sindptr, 0, 0);
    if (a->indptr == NULL) return -1;
    Py_ssize_t major = sindptr[0] - 1;
    a->n = a->form == CSC_COLUMNS ? minor : major;
    a->d = a->form == CSC_COLUMNS ? major : minor;
    if (!expect(major >= 0 && sindices[0] == sdata[0], "data and indices must have equal length"))
        return -1;
    /* The kernels check every row's range against its neighbours; the ends here. */
    Py_ssize_t first_entry, last_entry;
    if (a->index == KIND_I32) {
        first_entry = ((int32_t *)a->indptr)[0];
        last_entry = ((int32_t *)a->indptr)[major];
    } else {
        first_entry = ((int64_t *)a->indptr)[0];
        last_entry = ((int64_t *)a->indptr)[major];
    }
    return expect(first_entry == 0 && last_entry <= sdata[0], "indptr does not match data") ? 0
                                                                                            : -1;
}

/* Whether argument i has the shape s that the call needs; else ValueError.
 * Coefficient-shaped arrays are (classes, d) for dense X, (d, classes) for
 * sparse X; dense_hessp stacks the point's and the direction's classes. */
static int shape_ok(const call *a, int i, const Py_ssize_t *s)
{
    const char *name = a->names[i];
    if (i == ARG_Y || i == ARG_W) {
        if (s[0] == a->n) return 1;
        PyErr_Format(PyExc_ValueError, "%s must have X's rows (%zd), not %zd",
                     a->names[ARG_Y] ? "y and w" : "w", a->n, s[0]);
        return 0;
    }
    int stacked = a->form == DENSE && a->hessp && (i == ARG_COEF || i == ARG_B);
    Py_ssize_t classes = stacked ? 2 * a->c : a->c;
    const char *class_name = stacked ? "2 n_classes" : "n_classes";
    if (i == ARG_B || i == ARG_BDIR || i == ARG_GB) {
        if (s[0] == classes) return 1;
        PyErr_Format(PyExc_ValueError, "%s must have %s (%zd) entries, not %zd", name,
                     class_name, classes, s[0]);
        return 0;
    }
    int sparse = a->form != DENSE;
    Py_ssize_t rows = sparse ? a->d : classes, cols = sparse ? classes : a->d;
    if (a->c >= 1 && s[0] == rows && s[1] == cols) return 1;
    PyErr_Format(PyExc_ValueError, "%s must be (%s, %s) = (%zd, %zd)%s; not (%zd, %zd)", name,
                 sparse ? "n_features" : class_name, sparse ? class_name : "n_features", rows, cols,
                 a->c >= 1 ? "" : " with n_classes >= 1", s[0], s[1]);
    return 0;
}

/* Takes and checks X and the arguments the entry point has (the tuple args).
 * Returns 0, or -1 with an exception set. */
static int take_call(call *a, PyObject *args)
{
    Py_ssize_t first = a->form == DENSE ? 1 : 4, count = first;
    for (int i = 0; i < N_ARGS; i++) count += a->names[i] != NULL;
    if (PyTuple_GET_SIZE(args) != count) {
        PyErr_Format(PyExc_TypeError, "expected %zd arguments, got %zd", count,
                     PyTuple_GET_SIZE(args));
        return -1;
    }
    PyObject *items[4 + N_ARGS];
    for (Py_ssize_t k = 0; k < count; k++) items[k] = PyTuple_GET_ITEM(args, k);
    if (a->form == DENSE ? take_dense(a, items[0]) : take_sparse(a, items)) return -1;
    for (int i = 0; i < N_ARGS; i++) {
        if (a->names[i] == NULL) continue;
        int matrix = i == ARG_COEF || i == ARG_DIR || i == ARG_G, output = i >= ARG_G;
        int optional = !(i == ARG_Y || i == ARG_COEF || i == ARG_DIR || (i == ARG_G && a->hessp));
        enum kind kind = i == ARG_Y ? KIND_I64 : output ? KIND_F64 : a->real;
        Py_ssize_t shape[2] = {0, 0};
        a->arg[i] = take(&a->bufs, items[first++], a->names[i], kind, matrix ? 2 : 1, shape,
                         output, optional);
        if (a->arg[i] == NULL && PyErr_Occurred()) return -1;
        if (i == ARG_COEF) a->c = a->form != DENSE ? shape[1] : a->hessp ? shape[0] / 2 : shape[0];
        if (a->arg[i] != NULL && !shape_ok(a, i, shape)) return -1;
    }
    void *const *p = a->arg;
    if (!expect(p[ARG_GB] == NULL || p[ARG_G] != NULL, "gb is given without G") ||
        !expect(a->names[ARG_BDIR] == NULL || (p[ARG_B] == NULL) == (p[ARG_BDIR] == NULL),
                "b and bv must be both given or both None"))
        return -1;
    return 0;
}

/* BY_REAL(f, args), BY_TYPES(f, args): kernel f for X's dtype (and index
 * type) of `a` in the chosen variant. */
#define BY_REAL(f, args) (a.real == KIND_F32 ? CALL(f##_f32, args) : CALL(f##_f64, args))
#define BY_INDEX(f, args) (a.index == KIND_I32 ? CALL(f##_i32, args) : CALL(f##_i64, args))
#define BY_TYPES(f, args) (a.real == KIND_F32 ? BY_INDEX(f##_f32, args) : BY_INDEX(f##_f64, args))

/* The entry point for X in `form`: the Hessian product when `hessp`, else the
 * loss and (when G is given) its gradient. */
static PyObject *run(PyObject *args, enum form form, int hessp)
{
    call a = {.form = form, .hessp = hessp, .names = arg_names[2 * (form != DENSE) + hessp]};
    PyObject *result = NULL;
    if (take_call(&a, args)) goto done;
    Py_ssize_t n = a.n, d = a.d, c = a.c, width = hessp ? 2 * c : c; /* logits per row */
    size_t itemsize = a.real == KIND_F32 ? 4 : 8;
    /* Scratch: the logits of a tile of rows (dense), of a row (CSR) or of all
     * rows (CSC), the exponentials and shifts of a tile or a row, then for
     * narrow dense X the padded transposed coefficients (narrow_classes). */
    Py_ssize_t tile = form == DENSE ? tile_rows(d, itemsize) : 1;
    Py_ssize_t cp = form == DENSE ? narrow_classes(d, width, itemsize) : 0;
    Py_ssize_t reals = (form == CSC_COLUMNS ? n : tile) * width + tile * (c + 1);
    void *scratch = malloc((size_t)(reals + d * cp) * itemsize);
    void *WT = cp ? (char *)scratch + reals * itemsize : NULL;
    double *sum = malloc((size_t)c * sizeof(double));
    if (scratch == NULL || sum == NULL) {
        free(scratch);
        free(sum);
        PyErr_NoMemory();
        goto done;
    }
    void *const *p = a.arg;
    double loss = 0;
    int status = 0;
    Py_BEGIN_ALLOW_THREADS;
#define LOSS p[ARG_Y], p[ARG_W], p[ARG_COEF], p[ARG_B], c, &loss, p[ARG_G], p[ARG_GB]
#define HESSP p[ARG_W], p[ARG_COEF], p[ARG_DIR], p[ARG_B], p[ARG_BDIR], c, p[ARG_G], p[ARG_GB]
#define DENSE_CALL(f, ...) BY_REAL(f, (a.X, a.ldx, n, d, __VA_ARGS__, tile, scratch, WT, cp))
#define SPARSE_CALL(f, ...) BY_TYPES(f, (a.X, a.indices, a.indptr, n, d, __VA_ARGS__))
    if (form == DENSE && hessp)
        DENSE_CALL(dense_hessp, p[ARG_W], p[ARG_COEF], p[ARG_B], c, p[ARG_G], p[ARG_GB]);
    else if (form == DENSE)
        status = DENSE_CALL(dense_loss_grad, LOSS);
    else if (form == CSR_ROWS)
        status = hessp ? SPARSE_CALL(csr_hessp, HESSP, scratch)
                       : SPARSE_CALL(csr_loss_grad, LOSS, scratch);
    else
        status = hessp ? SPARSE_CALL(csc_hessp, HESSP, scratch, sum)
                       : SPARSE_CALL(csc_loss_grad, LOSS, scratch, sum);
#undef LOSS
#undef HESSP
#undef DENSE_CALL
#undef SPARSE_CALL
    Py_END_ALLOW_THREADS;
    free(scratch);
    free(sum);
    if (!expect(status == 0,
                form == DENSE ? "y holds a class index outside 0 .. n_classes - 1"
                : hessp ? "invalid sparse block: a column/row index out of range or indptr "
                          "decreasing"
                        : "invalid sparse block: a class index or column/row index out of "
                          "range, or indptr decreasing"))
        goto done;
    result = hessp ? Py_NewRef(Py_None) : PyFloat_FromDouble(loss);
done:
    release(&a.bufs);
    return result;
}

/* ---------------------------------------------------------------------------
 * The module
 * ------------------------------------------------------------------------- */

#define ENTRY(name, form, hessp) \
    static PyObject *name(PyObject *self, PyObject *args) { return run(args, form, hessp); }
ENTRY(dense_loss_grad, DENSE, 0)
ENTRY(dense_hessp, DENSE, 1)
ENTRY(csr_loss_grad, CSR_ROWS, 0)
ENTRY(csr_hessp, CSR_ROWS, 1)
ENTRY(csc_loss_grad, CSC_COLUMNS, 0)
ENTRY(csc_hessp, CSC_COLUMNS, 1)

PyDoc_STRVAR(dense_loss_grad_doc,
             "dense_loss_grad(X, y, w, W, b, G, gb) -> float\n\n"
             "Block sums of the loss and (when G is not None) its gradient on dense rows.\n\n"
             "X (n, d) float32/float64 C order; y (n,) int64 class indices; w (n,) or None;\n"
             "W (c, d) and b (c,) or None in X's dtype; G (c, d) float64 and gb (c,) float64\n"
             "or None, added to in place. Returns sum_k w_k CE_k as a float.");
PyDoc_STRVAR(dense_hessp_doc,
             "dense_hessp(X, w, WV, bv, G, gb) -> None\n\n"
             "Block sums of the Hessian-vector product on dense rows.\n\n"
             "X (n, d); w (n,) or None; WV (2c, d): the point's coef then the direction's;\n"
             "bv (2c,) or None: intercept then its direction; G (c, d) and gb (c,) or None,\n"
             "float64, added to in place.");
PyDoc_STRVAR(csr_loss_grad_doc,
             "csr_loss_grad(data, indices, indptr, n_features, y, w, WT, b, GT, gb) -> float\n\n"
             "Block sums of the loss and (when GT is not None) its gradient on CSR rows.\n\n"
             "WT (d, c) in data's dtype: coef transposed, C order; GT (d, c) float64 and\n"
             "gb (c,) float64 or None, added to in place. Returns sum_k w_k CE_k.");
PyDoc_STRVAR(csc_loss_grad_doc,
             "csc_loss_grad(data, indices, indptr, n_rows, y, w, WT, b, GT, gb) -> float\n\n"
             "csr_loss_grad's sums with X by columns: data, indices (row numbers) and indptr\n"
             "(n_features + 1) of X in CSC form.");
PyDoc_STRVAR(csr_hessp_doc,
             "csr_hessp(data, indices, indptr, n_features, w, WT, VT, b, bv, GT, gb) -> None\n\n"
             "Block sums of the Hessian-vector product on CSR rows at the point WT (d, c) in\n"
             "the direction VT (d, c), both in data's dtype, C order; b and bv (c,) or both\n"
             "None; GT (d, c) and gb (c,) or None, float64, added to in place.");
PyDoc_STRVAR(csc_hessp_doc,
             "csc_hessp(data, indices, indptr, n_rows, w, WT, VT, b, bv, GT, gb) -> None\n\n"
             "csr_hessp's sums with X by columns (CSC, as csc_loss_grad).");

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
