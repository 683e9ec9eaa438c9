#pragma once

// The inner loops of the built-in nodes, as free functions compiled twice
// (AVX2 and the x86-64 baseline) and picked at load time by the CPU. Both
// versions perform the same IEEE operations element by element (no fused
// multiply-add: -ffp-contract=off), so the choice never changes a bit.
//
// Realtime-safe: no allocation, no locks.

#include <cstdint>

namespace loophole::signal::kernels {

/// dst[i] = float(double(src[i]) * gain)
void scale_to_float(const float* src, double gain, float* dst, uint32_t n) noexcept;

/// acc[i] += double(src[i])
void accumulate(double* acc, const float* src, uint32_t n) noexcept;

/// dst[i] = float(acc[i] * gain)
void store_scaled(const double* acc, double gain, float* dst, uint32_t n) noexcept;

/// dst[i] = float(acc[i])
void store(const double* acc, float* dst, uint32_t n) noexcept;

/// dst[i] = src[i] * gain (in float)
void multiply(const float* src, float gain, float* dst, uint32_t n) noexcept;

/// True when no element is a NaN or an infinity.
bool all_finite(const float* x, uint32_t n) noexcept;

} // namespace loophole::signal::kernels
