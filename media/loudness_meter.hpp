#pragma once

// Measures what a `meter` node taps: sample peak, true peak, RMS and
// loudness (ITU-R BS.1770 / EBU R128 through libebur128). Pulse runs it on
// the tap's audio in segment order, as the output file is written, so the
// reading covers every frame exactly once whatever Signal instances failed
// and were resumed on the way.

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loophole::media {

struct loudness_reading {
  double integrated_lufs = -HUGE_VAL; ///< Gated programme loudness; -inf for silence.
  double range_lu = 0.0;              ///< Loudness range (EBU Tech 3342).
  double sample_peak_dbfs = -HUGE_VAL;
  double true_peak_dbtp = -HUGE_VAL;  ///< 4x oversampled peak (BS.1770 annex 2).
  double rms_dbfs = -HUGE_VAL;        ///< Of all channels together.
  int64_t frames = 0;
};

class loudness_meter {
public:
  /// Throws media_error (resources) if libebur128 cannot be set up.
  loudness_meter(uint16_t channels, uint32_t sample_rate);
  ~loudness_meter();
  loudness_meter(loudness_meter&&) noexcept;
  loudness_meter& operator=(loudness_meter&&) noexcept;

  /// Adds `frames` frames of planar audio: channel c at `base + c * stride`
  /// (float, or double from a graph of precision float64).
  void add_planar(const float* base, int64_t stride, uint32_t frames);
  void add_planar(const double* base, int64_t stride, uint32_t frames);

  loudness_reading reading() const;

private:
  struct handle; ///< Owns libebur128's state (an anonymous struct it cannot name here).
  std::unique_ptr<handle> state_;
  uint16_t channels_ = 0;
  template <class Sample>
  void add_interleaved(const Sample* base, int64_t stride, uint32_t frames,
                       std::vector<Sample>& interleaved);

  std::vector<float> interleaved_;
  std::vector<double> interleaved_f64_;
  double sum_squares_ = 0.0;
  int64_t frames_ = 0;
};

} // namespace loophole::media
