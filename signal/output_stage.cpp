#include "signal/output_stage.hpp"

#include <cstring>

#include "signal/tpdf_dither.hpp"

namespace loophole::signal {

output_stage::output_stage(const render_node& node)
  : bits_(static_cast<unsigned>(param_or(node, "bits", 0))),
    // Dither only where it reduces the word length: never for float or 32-bit.
    dither_(param_or(node, "dither", 0) != 0 && bits_ != 0 && bits_ <= 24),
    seed_(static_cast<uint64_t>(param_or(node, "dither_seed",
                                         static_cast<double>(default_dither_seed >> 11)))) {}

void output_stage::write_rt(int64_t timeline_frame, const audio_view& in,
                            void* dest) const noexcept {
  const uint16_t nc = in.channels;
  if (bits_ == 0) {
    auto* out = static_cast<float*>(dest);
    for (uint32_t i = 0; i < in.frames; ++i)
      for (uint16_t c = 0; c < nc; ++c)
        out[size_t{i} * nc + c] = in[c][i];
    return;
  }
  auto* out = static_cast<int32_t*>(dest);
  for (uint32_t i = 0; i < in.frames; ++i) {
    const int64_t frame = timeline_frame + i;
    for (uint16_t c = 0; c < nc; ++c) {
      const double noise = dither_ ? tpdf_noise(seed_, frame, c) : 0.0;
      out[size_t{i} * nc + c] =
        quantise_left_aligned(static_cast<double>(in[c][i]), noise, bits_);
    }
  }
}

} // namespace loophole::signal
