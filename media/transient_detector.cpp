#include "media/transient_detector.hpp"

#include <aubio/aubio.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>

namespace loophole::media {

namespace {

// aubio places an onset to within a hop or so. The attack itself is where the
// signal first rises to half the peak of the frames around it: a sample-exact
// boundary, so slices cut there start on their attack.
int64_t refine(const float* mono, int64_t frames, int64_t guess) {
  const int64_t from = std::max<int64_t>(0, guess - 2 * transient_hop);
  const int64_t to = std::min<int64_t>(frames, guess + 2 * transient_hop);
  float peak = 0.0f;
  for (int64_t k = from; k < to; ++k)
    peak = std::max(peak, std::abs(mono[k]));
  for (int64_t k = from; k < to; ++k)
    if (std::abs(mono[k]) >= 0.5f * peak)
      return k;
  return guess;
}

} // namespace

std::vector<int64_t> detect_transients(const float* mono, int64_t frames, uint32_t rate) {
  // Spectral flux: robust on drums and on pitched attacks alike.
  std::unique_ptr<aubio_onset_t, void (*)(aubio_onset_t*)> onset{
    new_aubio_onset("specflux", 4 * transient_hop, transient_hop, rate), del_aubio_onset};
  std::unique_ptr<fvec_t, void (*)(fvec_t*)> in{new_fvec(transient_hop), del_fvec};
  std::unique_ptr<fvec_t, void (*)(fvec_t*)> out{new_fvec(1), del_fvec};
  if (!onset || !in || !out)
    throw std::runtime_error("the transient detector (aubio) could not be set up");
  aubio_onset_set_minioi_ms(onset.get(), 20.0f);
  aubio_onset_set_silence(onset.get(), -60.0f);
  std::vector<int64_t> found;
  // One hop of silence more at the end lets an attack in the last hop be seen.
  for (int64_t at = 0; at < frames + transient_hop; at += transient_hop) {
    for (uint32_t i = 0; i < transient_hop; ++i) {
      const int64_t k = at + i;
      in->data[i] = k < frames ? mono[k] : 0.0f;
    }
    aubio_onset_do(onset.get(), in.get(), out.get());
    if (out->data[0] != 0.0f) {
      const auto frame = refine(mono, frames, static_cast<int64_t>(aubio_onset_get_last(onset.get())));
      if (frame < frames && (found.empty() || frame > found.back()))
        found.push_back(frame);
    }
  }
  return found;
}

} // namespace loophole::media
