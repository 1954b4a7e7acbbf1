#include <cblas.h>
/* OpenBLAS thread control (declared by OpenBLAS's cblas.h; repeated here for other builds). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);
/* mallopt: the kernel layer keeps freed activation buffers in the heap (ADNNKernels.HeapTuning). */
#include <malloc.h>
/* Software prefetch into L2 for the kernel layer (Swift has no prefetch intrinsic). */
static inline __attribute__((always_inline)) void adnn_prefetch_l2(const void *p) { __builtin_prefetch(p, 0, 2); }
/* Sixteen IEEE half-precision values (raw bits) widened to float, exactly: one vcvtph2ps on AVX-512, two on
   AVX2 + F16C, a bit-level conversion elsewhere. Read by the kernel layer's half-precision weight panels. */
#include <stdint.h>
#include <string.h>
#if defined(__AVX512F__) || defined(__F16C__)
#include <immintrin.h>
#endif
typedef float adnn_float16x __attribute__((ext_vector_type(16)));
static inline float adnn_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {
        float f = (float)mant * (1.0f / 16777216.0f); /* mant · 2^-24 */
        memcpy(&bits, &f, 4);
        bits |= sign;
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}
/* Sixteen floats from any address. The kernel layer's tiles load their weight panels with it: the Swift
   standard library's generic unaligned load was left out of line in the larger tile functions, spilling the
   accumulators around every call; an always-inline C function is always inlined. */
static inline __attribute__((always_inline)) adnn_float16x adnn_load_float16(const float *p) {
    adnn_float16x r;
    memcpy(&r, p, 64);
    return r;
}
static inline __attribute__((always_inline)) adnn_float16x adnn_load_half16(const uint16_t *p) {
#if defined(__AVX512F__)
    return (adnn_float16x)_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p));
#elif defined(__F16C__)
    __m256 lo = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
    __m256 hi = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 8)));
    adnn_float16x r;
    memcpy(&r, &lo, 32);
    memcpy((char *)&r + 32, &hi, 32);
    return r;
#else
    adnn_float16x r;
    for (int i = 0; i < 16; i++) r[i] = adnn_half_to_float(p[i]);
    return r;
#endif
}
