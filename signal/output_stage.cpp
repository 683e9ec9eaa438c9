#include "signal/output_stage.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "signal/tpdf_dither.hpp"
#include "signal/vector_clones.hpp"

namespace loophole::signal {

output_stage::output_stage(const render_node& node)
  : bits_(static_cast<unsigned>(param_or(node, "bits", 0))),
    // Dither only where it reduces the word length: never for float or 32-bit.
    dither_(param_or(node, "dither", 0) != 0 && bits_ != 0 && bits_ <= 24),
    seed_(static_cast<uint64_t>(param_or(node, "dither_seed",
                                         static_cast<double>(default_dither_seed >> 11)))) {}

namespace {

// A channel's quantised samples into a contiguous run, then interleaved: each
// loop vectorises (the dither hash needs AVX-512's 64-bit multiplies and
// conversions to be fast), and every sample gets the very operations of
// tpdf_noise and quantise_left_aligned.
constexpr uint32_t quantise_run = 256;

template <class Sample>
LOOPHOLE_VECTOR_CLONES void quantise_channel(const Sample* __restrict x, int64_t first_frame,
                                             uint16_t channel, uint64_t seed, bool dither,
                                             unsigned bits, double full,
                                             int32_t* __restrict q, uint32_t n) noexcept {
  if (dither) {
    for (uint32_t i = 0; i < n; ++i)
      q[i] = quantise_left_aligned(static_cast<double>(x[i]),
                                   tpdf_noise(seed, first_frame + i, channel), bits, full);
  } else {
    for (uint32_t i = 0; i < n; ++i)
      q[i] = quantise_left_aligned(static_cast<double>(x[i]), 0.0, bits, full);
  }
}

void interleave(const int32_t* const* q, uint16_t nc, int32_t* __restrict out, uint32_t n) noexcept {
  if (nc == 2) {
    const int32_t* __restrict l = q[0];
    const int32_t* __restrict r = q[1];
    for (uint32_t i = 0; i < n; ++i) {
      out[2 * size_t{i}] = l[i];
      out[2 * size_t{i} + 1] = r[i];
    }
    return;
  }
  for (uint16_t c = 0; c < nc; ++c)
    for (uint32_t i = 0; i < n; ++i)
      out[size_t{i} * nc + c] = q[c][i];
}

} // namespace

template <class Sample>
void output_stage::write_rt(int64_t timeline_frame, const basic_audio_view<Sample>& in,
                            void* dest) const noexcept {
  const uint16_t nc = in.channels;
  if (bits_ == 0) {
    auto* out = static_cast<float*>(dest);
    for (uint32_t i = 0; i < in.frames; ++i)
      for (uint16_t c = 0; c < nc; ++c)
        out[size_t{i} * nc + c] = static_cast<float>(in[c][i]);
    return;
  }
  auto* out = static_cast<int32_t*>(dest);
  const double full = std::ldexp(1.0, static_cast<int>(bits_) - 1);
  // On the stack: a bus has at most max_channels channels.
  alignas(64) int32_t runs[max_channels][quantise_run];
  const int32_t* run_of[max_channels];
  for (uint16_t c = 0; c < nc; ++c)
    run_of[c] = runs[c];
  for (uint32_t done = 0; done < in.frames; done += quantise_run) {
    const uint32_t n = std::min(quantise_run, in.frames - done);
    for (uint16_t c = 0; c < nc; ++c)
      quantise_channel(in[c] + done, timeline_frame + done, c, seed_, dither_, bits_, full,
                       runs[c], n);
    interleave(run_of, nc, out + size_t{done} * nc, n);
  }
}

template void output_stage::write_rt(int64_t, const audio_view&, void*) const noexcept;
template void output_stage::write_rt(int64_t, const audio_view_f64&, void*) const noexcept;

} // namespace loophole::signal
