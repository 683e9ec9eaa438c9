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

/// Opens `path`, reads its header and hashes its content (unless `known_id`
/// gives the hash already). Throws media_error.
media_probe probe(const std::string& path, const std::string& known_id = {});

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
///
/// Little-endian PCM (16, 24, 32-bit) and float WAV, RF64 and W64 files take
/// a fast path: libsndfile reads the raw bytes and they are converted and
/// deinterleaved in one pass, to the very values libsndfile's own float
/// conversion gives (scaling by a power of two is exact). Everything else is
/// decoded by libsndfile.
class media_stream {
public:
  /// How samples are turned into floats.
  enum class decoding : uint8_t { library, raw_pcm16, raw_pcm24, raw_pcm32, raw_float };

  /// Throws media_error. `allow_raw` false forces libsndfile's own decoding.
  explicit media_stream(const std::string& path, bool allow_raw = true);
  ~media_stream();
  media_stream(const media_stream&) = delete;
  media_stream& operator=(const media_stream&) = delete;

  uint16_t channels() const noexcept { return channels_; }
  int64_t frames() const noexcept { return frames_; }
  decoding method() const noexcept { return decoding_; }

  /// Reads frames [first, first + count) into `count` samples of each
  /// channel c at dest + c * stride. Throws media_error on a short read.
  void read(int64_t first, int64_t count, float* dest, int64_t stride);

private:
  std::string path_;
  void* file_ = nullptr; // SNDFILE*
  uint16_t channels_ = 0;
  int64_t frames_ = 0;
  int64_t position_ = 0;
  decoding decoding_ = decoding::library;
  std::vector<float> interleaved_;
  std::vector<unsigned char> raw_;
};

} // namespace loophole::media
