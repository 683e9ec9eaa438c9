#pragma once

// Writing a render to disk without ever losing material: the samples go to a
// temporary file beside the target, which is closed, re-opened and checked
// (format, channels, rate, frame count), synced, and only then renamed over
// the target (atomically; without `force`, never over an existing file).
// Until then the target holds the previous file or nothing; on any failure
// the temporary file is removed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace loophole::media {

/// Output containers and codecs (all through libsndfile).
enum class output_format : uint8_t { wav, rf64, flac, aiff, ogg, opus, mp3 };

std::string_view to_string(output_format x) noexcept;

/// "wav", "rf64", "flac", "aiff"/"aif", "ogg", "opus", "mp3" (case-insensitive).
std::optional<output_format> parse_output_format(std::string_view name) noexcept;

/// The format named by the extension of `path`, if any.
std::optional<output_format> format_of_path(std::string_view path) noexcept;

/// True for the lossy codecs, which take float samples and no word length.
bool is_lossy(output_format f) noexcept;

/// Why `bits` (0 = float) does not suit `format`, or empty.
std::string check_bits(output_format format, uint16_t bits);

/// Why `bits` (0 = float) at `rate` does not suit `format`, or empty.
std::string check_encoding(output_format format, uint16_t bits, uint32_t rate);

struct output_spec {
  std::string path;
  output_format format = output_format::wav;
  uint16_t bits = 24; ///< 0: 32-bit float; ignored by lossy codecs
  uint16_t channels = 2;
  uint32_t sample_rate = 48000;
  int64_t frames = 0; ///< Frames that will be written (checked at commit).
  bool force = false;
  double vbr_quality = 0.7;
  std::string title, artist, comment, date;
  int64_t time_reference = 0; ///< BWF: timeline frame of the first sample.
};

class output_file {
public:
  /// Checks the target (exists without force, folder unwritable) and opens the
  /// temporary file. Throws media_error.
  explicit output_file(output_spec spec);
  ~output_file(); ///< Removes the temporary file unless committed.
  output_file(const output_file&) = delete;
  output_file& operator=(const output_file&) = delete;

  /// Appends `frames` interleaved frames: int32 left-aligned samples for
  /// integer formats, float for float and lossy formats. Throws media_error.
  void write_int(const int32_t* samples, int64_t frames);
  void write_float(const float* samples, int64_t frames);

  /// Closes, checks, syncs and renames into place. Throws media_error.
  void commit();

  /// The temporary file's path (for tests and diagnostics).
  const std::string& temporary_path() const noexcept { return temp_path_; }

private:
  void fail_io(const std::string& what);
  void open_encoder();
  void start_writeback() noexcept;

  output_spec spec_;
  std::string temp_path_;
  int fd_ = -1;
  void* file_ = nullptr; // SNDFILE*
  int64_t written_ = 0;
  bool committed_ = false;
};

/// Rewrites the serial number of every page of an Ogg file to `serial` and
/// fixes the page checksums, so two encodes of the same audio are
/// byte-identical (libsndfile picks a random serial). Throws media_error.
void normalise_ogg_serial(const std::string& path, uint32_t serial);

} // namespace loophole::media
