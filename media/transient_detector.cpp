#include "media/transient_detector.hpp"

#include <aubio/aubio.h>
#include <dlfcn.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>

namespace loophole::media {

namespace {

// aubio is loaded when a transient analysis first runs, not with Pulse:
// Debian's libaubio brings in FFmpeg and over a hundred libraries, which
// would add their load time and memory to every render.
struct aubio_api {
  decltype(&new_aubio_onset) new_onset = nullptr;
  decltype(&del_aubio_onset) del_onset = nullptr;
  decltype(&aubio_onset_set_minioi_ms) set_minioi_ms = nullptr;
  decltype(&aubio_onset_set_silence) set_silence = nullptr;
  decltype(&aubio_onset_do) onset_do = nullptr;
  decltype(&aubio_onset_get_last) get_last = nullptr;
  decltype(&new_fvec) new_vec = nullptr;
  decltype(&del_fvec) del_vec = nullptr;
  std::string error;

  aubio_api() {
    void* lib = ::dlopen("libaubio.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
      error = std::string{"transient detection needs aubio (Debian: libaubio5): "} + ::dlerror();
      return;
    }
    auto load = [&](auto& fn, const char* name) {
      fn = reinterpret_cast<std::remove_reference_t<decltype(fn)>>(::dlsym(lib, name));
      if (!fn && error.empty())
        error = std::string{"aubio lacks "} + name;
    };
    load(new_onset, "new_aubio_onset");
    load(del_onset, "del_aubio_onset");
    load(set_minioi_ms, "aubio_onset_set_minioi_ms");
    load(set_silence, "aubio_onset_set_silence");
    load(onset_do, "aubio_onset_do");
    load(get_last, "aubio_onset_get_last");
    load(new_vec, "new_fvec");
    load(del_vec, "del_fvec");
  }
};

const aubio_api& aubio() {
  static const aubio_api api; // thread-safe initialisation, loaded once
  if (!api.error.empty())
    throw std::runtime_error(api.error);
  return api;
}

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
  const auto& api = aubio();
  std::unique_ptr<aubio_onset_t, void (*)(aubio_onset_t*)> onset{
    api.new_onset("specflux", 4 * transient_hop, transient_hop, rate), api.del_onset};
  std::unique_ptr<fvec_t, void (*)(fvec_t*)> in{api.new_vec(transient_hop), api.del_vec};
  std::unique_ptr<fvec_t, void (*)(fvec_t*)> out{api.new_vec(1), api.del_vec};
  if (!onset || !in || !out)
    throw std::runtime_error("the transient detector (aubio) could not be set up");
  api.set_minioi_ms(onset.get(), 20.0f);
  api.set_silence(onset.get(), -60.0f);
  std::vector<int64_t> found;
  // One hop of silence more at the end lets an attack in the last hop be seen.
  for (int64_t at = 0; at < frames + transient_hop; at += transient_hop) {
    for (uint32_t i = 0; i < transient_hop; ++i) {
      const int64_t k = at + i;
      in->data[i] = k < frames ? mono[k] : 0.0f;
    }
    api.onset_do(onset.get(), in.get(), out.get());
    if (out->data[0] != 0.0f) {
      const auto frame = refine(mono, frames, static_cast<int64_t>(api.get_last(onset.get())));
      if (frame < frames && (found.empty() || frame > found.back()))
        found.push_back(frame);
    }
  }
  return found;
}

} // namespace loophole::media
