#include "signal/vector_kernels.hpp"

#include <cstring>
#include <type_traits>

#include "signal/vector_clones.hpp"

namespace loophole::signal::kernels {

template <class Sample>
LOOPHOLE_VECTOR_CLONES void scale_to_float(const float* __restrict src, double gain,
                                           Sample* __restrict dst, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = static_cast<Sample>(static_cast<double>(src[i]) * gain);
}

template <class Sample>
LOOPHOLE_VECTOR_CLONES void accumulate(double* __restrict acc, const Sample* __restrict src,
                                       uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    acc[i] += static_cast<double>(src[i]);
}

template <class Sample>
LOOPHOLE_VECTOR_CLONES void accumulate4(double* __restrict acc, const Sample* __restrict a,
                                        const Sample* __restrict b, const Sample* __restrict c,
                                        const Sample* __restrict d, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    acc[i] = (((acc[i] + static_cast<double>(a[i])) + static_cast<double>(b[i])) +
              static_cast<double>(c[i])) +
             static_cast<double>(d[i]);
}

template <class Sample>
LOOPHOLE_VECTOR_CLONES void store_scaled(const double* __restrict acc, double gain,
                                         Sample* __restrict dst, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = static_cast<Sample>(acc[i] * gain);
}

template <class Sample>
LOOPHOLE_VECTOR_CLONES void store(const double* __restrict acc, Sample* __restrict dst,
                                  uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = static_cast<Sample>(acc[i]);
}

template <class Sample>
LOOPHOLE_VECTOR_CLONES void multiply(const Sample* __restrict src, Sample gain,
                                     Sample* __restrict dst, uint32_t n) noexcept {
  for (uint32_t i = 0; i < n; ++i)
    dst[i] = src[i] * gain;
}

// An integer OR-reduction over the exponent bits: vectorises, unlike a loop
// of std::isfinite, and sees every NaN and infinity.
template <class Sample>
LOOPHOLE_VECTOR_CLONES bool all_finite(const Sample* x, uint32_t n) noexcept {
  using bits_type = std::conditional_t<sizeof(Sample) == 8, uint64_t, uint32_t>;
  constexpr bits_type exponent = sizeof(Sample) == 8 ? bits_type(0x7FF0000000000000u)
                                                     : bits_type(0x7F800000u);
  bits_type bad = 0;
  for (uint32_t i = 0; i < n; ++i) {
    bits_type bits;
    std::memcpy(&bits, x + i, sizeof bits);
    bad |= static_cast<bits_type>((bits & exponent) == exponent);
  }
  return bad == 0;
}

#define LOOPHOLE_KERNELS_FOR(Sample)                                                      \
  template void scale_to_float(const float*, double, Sample*, uint32_t) noexcept;       \
  template void accumulate(double*, const Sample*, uint32_t) noexcept;                  \
  template void accumulate4(double*, const Sample*, const Sample*, const Sample*,       \
                            const Sample*, uint32_t) noexcept;                          \
  template void store_scaled(const double*, double, Sample*, uint32_t) noexcept;        \
  template void store(const double*, Sample*, uint32_t) noexcept;                       \
  template void multiply(const Sample*, Sample, Sample*, uint32_t) noexcept;            \
  template bool all_finite(const Sample*, uint32_t) noexcept;
LOOPHOLE_KERNELS_FOR(float)
LOOPHOLE_KERNELS_FOR(double)
#undef LOOPHOLE_KERNELS_FOR

} // namespace loophole::signal::kernels
