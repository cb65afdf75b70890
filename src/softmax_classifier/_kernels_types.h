/* One variant (VARIANT: a name suffix) of every kernel: float32 and float64
 * data, and for the sparse kernels int32 and int64 indices. Included by
 * _kernels.c, and by itself once per floating type (TYPE_SUFFIX defined). */

#ifndef TYPE_SUFFIX

#define REAL float
#define IREAL int32_t
#define VLEN 8
#define EXP_MAGIC 12582912.0f /* 1.5 * 2^23 */
#define EXP_LN2_HI 0.693145751953125f
#define EXP_LN2_LO 1.428606765330187e-06f
#define EXP_DEGREE 7
#define EXP_BIAS 127
#define EXP_SHIFT 23
#define EXP_MIN -87.0f
#define TYPE_SUFFIX _f32
#include "_kernels_types.h"

#define REAL double
#define IREAL int64_t
#define VLEN 4
#define EXP_MAGIC 6755399441055744.0 /* 1.5 * 2^52 */
#define EXP_LN2_HI 0.693147180369123816490
#define EXP_LN2_LO 1.90821492927058770002e-10
#define EXP_DEGREE 13
#define EXP_BIAS 1023
#define EXP_SHIFT 52
#define EXP_MIN -708.0
#define TYPE_SUFFIX _f64
#include "_kernels_types.h"

#else /* one floating type: its dense kernels, then its sparse kernels per index type */

#define FN(name) CAT(name, TYPE_SUFFIX, VARIANT)
#define CSR(name) CAT4(name, TYPE_SUFFIX, INDEX_SUFFIX, VARIANT)
#include "_kernels_body.h"
#define INDEX int32_t
#define INDEX_SUFFIX _i32
#include "_kernels_body.h"
#undef INDEX
#undef INDEX_SUFFIX
#define INDEX int64_t
#define INDEX_SUFFIX _i64
#include "_kernels_body.h"
#undef INDEX
#undef INDEX_SUFFIX
#undef FN
#undef CSR
#undef REAL
#undef IREAL
#undef VLEN
#undef EXP_MAGIC
#undef EXP_LN2_HI
#undef EXP_LN2_LO
#undef EXP_DEGREE
#undef EXP_BIAS
#undef EXP_SHIFT
#undef EXP_MIN
#undef TYPE_SUFFIX

#endif
