#include <cblas.h>
/* OpenBLAS thread control (declared by OpenBLAS's cblas.h; repeated here for other builds). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
/* mallopt: the kernel layer keeps freed activation buffers in the heap (ADNNKernels.HeapTuning). */
#include <malloc.h>
/* Software prefetch into L2 for the kernel layer (Swift has no prefetch intrinsic). */
static inline __attribute__((always_inline)) void adnn_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }
