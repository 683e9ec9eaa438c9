#pragma once

// The inner loops of the built-in nodes, as free functions compiled twice
// (AVX2 and the x86-64 baseline) and picked at load time by the CPU. Both
// versions perform the same IEEE operations element by element (no fused
// multiply-add: -ffp-contract=off), so the choice never changes a bit.
// `Sample` is float or double (a graph of precision float64); both are
// instantiated.
//
// Realtime-safe: no allocation, no locks.

#include <cstdint>

namespace loophole::signal::kernels {

/// dst[i] = Sample(double(src[i]) * gain): media (float) into a node's output.
template <class Sample>
void scale_to_float(const float* src, double gain, Sample* dst, uint32_t n) noexcept;

/// acc[i] += double(src[i])
template <class Sample>
void accumulate(double* acc, const Sample* src, uint32_t n) noexcept;

/// acc[i] = (((acc[i] + a[i]) + b[i]) + c[i]) + d[i]: four accumulate calls
/// in one pass over acc (the same additions in the same order).
template <class Sample>
void accumulate4(double* acc, const Sample* a, const Sample* b, const Sample* c,
                 const Sample* d, uint32_t n) noexcept;

/// dst[i] = Sample(acc[i] * gain)
template <class Sample>
void store_scaled(const double* acc, double gain, Sample* dst, uint32_t n) noexcept;

/// dst[i] = Sample(acc[i])
template <class Sample>
void store(const double* acc, Sample* dst, uint32_t n) noexcept;

/// dst[i] = src[i] * gain (in the sample type)
template <class Sample>
void multiply(const Sample* src, Sample gain, Sample* dst, uint32_t n) noexcept;

/// True when no element is a NaN or an infinity.
template <class Sample>
bool all_finite(const Sample* x, uint32_t n) noexcept;

} // namespace loophole::signal::kernels
