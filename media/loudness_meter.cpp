#include "media/loudness_meter.hpp"

#include <ebur128.h>

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "media/media_error.hpp"

namespace loophole::media {

namespace {

double to_db(double linear) { return linear > 0 ? 20.0 * std::log10(linear) : -HUGE_VAL; }

// BS.1770 weights channels by position: L, R, C at 1, surrounds at 1.41,
// the LFE left out. WAV order (L R C LFE Ls Rs [Lrs Rrs] [Ltf Rtf Ltr Rtr]);
// rear surrounds count as surrounds, heights at 1 (BS.2051's weighting of
// the upper layer).
int channel_role(uint16_t channels, uint16_t c) {
  if (channels < 6)
    return c == 0 ? EBUR128_LEFT : c == 1 ? EBUR128_RIGHT : EBUR128_CENTER;
  switch (c) {
    case 0:
      return EBUR128_LEFT;
    case 1:
      return EBUR128_RIGHT;
    case 2:
      return EBUR128_CENTER;
    case 3:
      return EBUR128_UNUSED;
    default:
      if (c < 8)
        return c % 2 == 0 ? EBUR128_LEFT_SURROUND : EBUR128_RIGHT_SURROUND;
      return c % 2 == 0 ? EBUR128_LEFT : EBUR128_RIGHT;
  }
}

} // namespace

struct loudness_meter::handle {
  explicit handle(ebur128_state* s) : st(s) {}
  ~handle() { ebur128_destroy(&st); }
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  ebur128_state* st;
};

loudness_meter::loudness_meter(uint16_t channels, uint32_t sample_rate) : channels_(channels) {
  auto* st = ebur128_init(channels, sample_rate,
                          EBUR128_MODE_I | EBUR128_MODE_LRA | EBUR128_MODE_SAMPLE_PEAK |
                            EBUR128_MODE_TRUE_PEAK);
  if (!st)
    throw media_error(failure::resources, "cannot set up a loudness meter (libebur128)");
  state_ = std::make_unique<handle>(st);
  for (uint16_t c = 0; c < channels; ++c)
    ebur128_set_channel(st, c, channel_role(channels, c));
}

loudness_meter::~loudness_meter() = default;
loudness_meter::loudness_meter(loudness_meter&&) noexcept = default;
loudness_meter& loudness_meter::operator=(loudness_meter&&) noexcept = default;

template <class Sample>
void loudness_meter::add_interleaved(const Sample* base, int64_t stride, uint32_t frames,
                                     std::vector<Sample>& interleaved) {
  interleaved.resize(size_t{frames} * channels_);
  for (uint16_t c = 0; c < channels_; ++c) {
    const Sample* in = base + c * stride;
    for (uint32_t i = 0; i < frames; ++i) {
      interleaved[size_t{i} * channels_ + c] = in[i];
      sum_squares_ += static_cast<double>(in[i]) * static_cast<double>(in[i]);
    }
  }
  int status = 0;
  if constexpr (std::is_same_v<Sample, double>)
    status = ebur128_add_frames_double(state_->st, interleaved.data(), frames);
  else
    status = ebur128_add_frames_float(state_->st, interleaved.data(), frames);
  if (status != EBUR128_SUCCESS)
    throw media_error(failure::resources, "the loudness meter failed (libebur128)");
  frames_ += frames;
}

void loudness_meter::add_planar(const float* base, int64_t stride, uint32_t frames) {
  add_interleaved(base, stride, frames, interleaved_);
}

void loudness_meter::add_planar(const double* base, int64_t stride, uint32_t frames) {
  add_interleaved(base, stride, frames, interleaved_f64_);
}

loudness_reading loudness_meter::reading() const {
  loudness_reading r;
  r.frames = frames_;
  double value = 0;
  if (ebur128_loudness_global(state_->st, &value) == EBUR128_SUCCESS)
    r.integrated_lufs = value;
  if (ebur128_loudness_range(state_->st, &value) == EBUR128_SUCCESS)
    r.range_lu = value;
  double sample_peak = 0, true_peak = 0;
  for (uint16_t c = 0; c < channels_; ++c) {
    if (ebur128_sample_peak(state_->st, c, &value) == EBUR128_SUCCESS)
      sample_peak = std::max(sample_peak, value);
    if (ebur128_true_peak(state_->st, c, &value) == EBUR128_SUCCESS)
      true_peak = std::max(true_peak, value);
  }
  r.sample_peak_dbfs = to_db(sample_peak);
  r.true_peak_dbtp = to_db(true_peak);
  if (frames_ > 0)
    r.rms_dbfs = to_db(std::sqrt(sum_squares_ / (static_cast<double>(frames_) * channels_)));
  return r;
}

} // namespace loophole::media
