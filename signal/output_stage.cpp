#include "signal/output_stage.hpp"

#include <cmath>
#include <cstring>

#include "signal/tpdf_dither.hpp"

namespace loophole::signal {

output_stage::output_stage(const render_node& node)
  : bits_(static_cast<unsigned>(param_or(node, "bits", 0))),
    // Dither only where it reduces the word length: never for float or 32-bit.
    dither_(param_or(node, "dither", 0) != 0 && bits_ != 0 && bits_ <= 24),
    seed_(static_cast<uint64_t>(param_or(node, "dither_seed",
                                         static_cast<double>(default_dither_seed >> 11)))) {}

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
  const uint64_t seed = seed_;
  const unsigned bits = bits_;
  for (uint16_t c = 0; c < nc; ++c) {
    const Sample* x = in[c];
    int32_t* o = out + c;
    if (dither_) {
      for (uint32_t i = 0; i < in.frames; ++i)
        o[size_t{i} * nc] = quantise_left_aligned(
          static_cast<double>(x[i]), tpdf_noise(seed, timeline_frame + i, c), bits, full);
    } else {
      for (uint32_t i = 0; i < in.frames; ++i)
        o[size_t{i} * nc] = quantise_left_aligned(static_cast<double>(x[i]), 0.0, bits, full);
    }
  }
}

template void output_stage::write_rt(int64_t, const audio_view&, void*) const noexcept;
template void output_stage::write_rt(int64_t, const audio_view_f64&, void*) const noexcept;

} // namespace loophole::signal
