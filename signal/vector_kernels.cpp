#include "signal/vector_kernels.hpp"

#include <cstring>

#if defined(__x86_64__) && defined(__GNUC__)
#define LOOPHOLE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define LOOPHOLE_VECTOR_CLONES
#endif

namespace loophole::signal::kernels {

LOOPHOLE_VECTOR_CLONES
void scale_to_float(const float* __restrict src, double gain, float* __restrict dst,
                    uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = static_cast<float>(static_cast<double>(src[i]) * gain);
}

LOOPHOLE_VECTOR_CLONES
void accumulate(double* __restrict acc, const float* __restrict src, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    acc[i] += static_cast<double>(src[i]);
}

LOOPHOLE_VECTOR_CLONES
void store_scaled(const double* __restrict acc, double gain, float* __restrict dst,
                  uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = static_cast<float>(acc[i] * gain);
}

LOOPHOLE_VECTOR_CLONES
void store(const double* __restrict acc, float* __restrict dst, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = static_cast<float>(acc[i]);
}

LOOPHOLE_VECTOR_CLONES
void multiply(const float* __restrict src, float gain, float* __restrict dst, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = src[i] * gain;
}

// An integer OR-reduction over the exponent bits: vectorises, unlike a loop
// of std::isfinite, and sees every NaN and infinity.
LOOPHOLE_VECTOR_CLONES
bool all_finite(const float* x, uint32_t n) noexcept {
  uint32_t bad = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    bad |= static_cast<uint32_t>((bits & 0x7F800000u) == 0x7F800000u);
  }
  return bad == 0;
}

} // namespace loophole::signal::kernels
