#pragma once

// Reading media files through libsndfile (WAV, RF64, FLAC, AIFF, Ogg Vorbis,
// Opus, MP3): probing, content hashing, streaming source frames, and decoding
// with resampling (libsamplerate) to the session rate.
//
// Thread contract: every function and object here is used by one thread at a
// time; different objects may be used on different threads at once.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace loophole::media {

/// What a file holds, read from its header, and its content hash.
struct media_probe {
  std::string path;
  std::string media_id; ///< XXH3-128 of the file's bytes, 32 hex digits.
  std::string format;   ///< e.g. "WAV (Microsoft) / Signed 24 bit PCM"
  uint16_t channels = 0;
  int64_t frames = 0;   ///< At the file's own rate.
  uint32_t sample_rate = 0;
};

/// Opens `path`, reads its header and hashes its content. Throws media_error.
media_probe probe(const std::string& path);

/// The hash of a file's bytes (XXH3-128, hex). Throws media_error.
std::string content_hash(const std::string& path);

/// Frames of a file of `frames` frames at `from` Hz once resampled to `to` Hz:
/// round(frames * to / from), half up.
int64_t resampled_length(int64_t frames, uint32_t from, uint32_t to) noexcept;

/// libsamplerate converter quality, best to fastest.
enum class resample_quality : uint8_t { best = 0, medium = 1, fastest = 2 };

/// A whole file decoded to planar float at a given rate: channel c holds
/// frames [c * frames, (c + 1) * frames).
struct decoded_media {
  uint16_t channels = 0;
  int64_t frames = 0;
  std::vector<float> samples;
};

/// Decodes all of `path` and resamples it to `rate`; the result has exactly
/// resampled_length(...) frames. Throws media_error.
decoded_media decode_resampled(const std::string& path, uint32_t rate,
                               resample_quality quality);

/// Streams frames of one file (at its own rate) into planar buffers. Reading
/// forward is sequential; a jump seeks.
class media_stream {
public:
  explicit media_stream(const std::string& path); ///< Throws media_error.
  ~media_stream();
  media_stream(const media_stream&) = delete;
  media_stream& operator=(const media_stream&) = delete;

  uint16_t channels() const noexcept { return channels_; }
  int64_t frames() const noexcept { return frames_; }

  /// Reads frames [first, first + count) into `count` samples of each
  /// channel c at dest + c * stride. Throws media_error on a short read.
  void read(int64_t first, int64_t count, float* dest, int64_t stride);

private:
  std::string path_;
  void* file_ = nullptr; // SNDFILE*
  uint16_t channels_ = 0;
  int64_t frames_ = 0;
  int64_t position_ = 0;
  std::vector<float> interleaved_;
};

} // namespace loophole::media
