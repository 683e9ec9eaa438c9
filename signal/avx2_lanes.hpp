#pragma once

// What the cohort kernels of the eq (biquad.cpp) and the compressor
// (dynamics.cpp) share: loading, storing and transposing four frames of four
// lanes in AVX2 registers. Each function carries its own target, so it may be
// called only from functions compiled for AVX2 (and, for the eq, FMA), which
// callers choose at run time with __builtin_cpu_supports.
//
// Realtime-safe: registers only.

#if defined(__x86_64__) && defined(__GNUC__)
#define LOOPHOLE_HAVE_AVX2_LANES 1

#include <immintrin.h>

#include <type_traits>

namespace loophole::signal::avx2 {

#define LOOPHOLE_AVX2_INLINE __attribute__((target("avx2,fma"), always_inline)) inline

/// Four samples as doubles (float samples converted exactly).
template <class Sample>
LOOPHOLE_AVX2_INLINE __m256d load4(const Sample* p) noexcept {
  if constexpr (std::is_same_v<Sample, float>)
    return _mm256_cvtps_pd(_mm_loadu_ps(p));
  else
    return _mm256_loadu_pd(p);
}

/// Four doubles as samples (to float rounded to nearest, as a cast is).
template <class Sample>
LOOPHOLE_AVX2_INLINE void store4(Sample* p, __m256d v) noexcept {
  if constexpr (std::is_same_v<Sample, float>)
    _mm_storeu_ps(p, _mm256_cvtpd_ps(v));
  else
    _mm256_storeu_pd(p, v);
}

/// Rows (one lane's four frames each) to columns (one frame's four lanes),
/// or back: the transpose is its own inverse.
LOOPHOLE_AVX2_INLINE void transpose4(__m256d* r) noexcept {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

} // namespace loophole::signal::avx2

#endif
