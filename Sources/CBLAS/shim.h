#include <cblas.h>
/* OpenBLAS thread control (declared by OpenBLAS's cblas.h; repeated here for other builds). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
/* mallopt: the kernel layer keeps freed activation buffers in the heap (ADNNKernels.HeapTuning). */
#include <malloc.h>
