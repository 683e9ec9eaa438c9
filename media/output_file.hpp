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
#include <vector>

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

/// A named position in the output, written as a cue point (WAV: `cue ` with
/// `LIST`/`adtl` labels; AIFF: `MARK`).
struct file_marker {
  std::string name;
  int64_t frame = 0; ///< From the first frame of the file.
};

/// Whether `f` carries markers (WAV and AIFF; the others have no place for them).
bool carries_markers(output_format f) noexcept;

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
  /// The temporary file to write (created, must not exist); empty: a
  /// random name beside the target.
  std::string temporary_path;
  /// If set, every sample written is appended here too, raw, for formats
  /// whose output cannot be read back to resume (see can_read_back).
  std::string spool_path;
  /// Cue points with names, for the formats that carry_markers (at most
  /// max_markers, in [0, frames]).
  std::vector<file_marker> markers;
};

/// More than this is refused by check_target (a WAV `cue ` chunk has room for
/// billions, but a session with so many is a mistake).
inline constexpr size_t max_markers = 10000;

/// True for the PCM containers (WAV, RF64, AIFF), whose samples a resumed
/// render can read back from the partial file itself.
bool can_read_back(output_format f) noexcept;

/// Checks that `spec` can be written: the encoding suits the format, the
/// target is not a folder, does not exist (unless `force`), and its folder
/// exists. Throws media_error.
void check_target(const output_spec& spec);

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

  /// Frames written so far.
  int64_t frames_written() const noexcept { return written_; }

  /// Formats that can_read_back: the byte offset of the first sample in the
  /// temporary file, known once a frame is written; -1 before or otherwise.
  int64_t data_offset() const noexcept { return data_offset_; }

  /// Resuming: writes the first `frames` frames of an earlier render of the
  /// same output, read back from its partial file (PCM, samples from
  /// `data_offset`) or, with an empty `partial`, from this file's spool
  /// (which is then cut to those frames). Call before any other write.
  /// They are written in calls of `chunk_frames`, as the render wrote them:
  /// lossy encoders page their stream by write calls. Throws media_error.
  void write_earlier_frames(const std::string& partial, int64_t data_offset, int64_t frames,
                            int64_t chunk_frames);

  /// The temporary file's path (for tests and diagnostics).
  const std::string& temporary_path() const noexcept { return temp_path_; }

private:
  void fail_io(const std::string& what);
  void open_encoder();
  void start_writeback() noexcept;
  void add_cue_points();
  void append_wav_labels();

  output_spec spec_;
  std::string temp_path_;
  int fd_ = -1;
  void* file_ = nullptr; // SNDFILE*
  void append_spool(const void* data, size_t bytes);
  void note_data_offset();

  int64_t written_ = 0;
  bool committed_ = false;
  int spool_fd_ = -1;
  int64_t data_offset_ = -1;
};

/// Rewrites the serial number of every page of an Ogg file to `serial` and
/// fixes the page checksums, so two encodes of the same audio are
/// byte-identical (libsndfile picks a random serial). Throws media_error.
void normalise_ogg_serial(const std::string& path, uint32_t serial);

} // namespace loophole::media
