#pragma once

// The state of a render in progress, on disk, so that a Pulse killed
// mid-render can be resumed (`loophole render --resume`) and finish
// byte-identical. It lives in one hidden folder beside the output,
// `.NAME.loophole/`:
//
//   lock          flock()ed by the live render: a second render of the same
//                 output is refused, and a folder whose lock is free belongs
//                 to a render that died
//   partial-N     the temporary output file (renamed over NAME at the end)
//   spool         for formats that cannot be read back (FLAC and the lossy
//                 codecs): the samples given to the encoder, raw
//   checkpoint    the last checkpoint: what was rendered and the node states
//
// The folder goes when the render ends in any orderly way (finished, failed
// or cancelled); only a process that dies leaves it, and the next render of
// the same output either resumes from it or clears it.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace loophole::media {

/// A checkpoint as stored on disk.
struct checkpoint_record {
  std::string identity;  ///< What was rendered (render_identity): resume only the same.
  int64_t segment = -1;  ///< The last segment whose output and node states it holds.
  int64_t frames = 0;    ///< Output frames written through `segment`.
  std::string partial;   ///< File name (in the folder) of the partial output.
  int64_t data_offset = -1; ///< PCM: byte offset of the first sample in `partial`; -1: use the spool.
  double peak = 0;       ///< Largest absolute sample in those frames.
  std::vector<std::pair<uint32_t, std::string>> states; ///< (node, state)
};

/// Serialises a record: magic, fields, and an XXH3-64 checksum of it all.
std::string encode_checkpoint(const checkpoint_record& record);

/// Parses what encode_checkpoint wrote; nullopt for anything else (a torn,
/// truncated or foreign file).
std::optional<checkpoint_record> decode_checkpoint(std::string_view bytes);

/// A short hex digest identifying what a render computes (XXH3-128).
std::string render_identity(std::string_view description);

class render_state {
public:
  /// Claims the state folder of `output_path`, creating it. Throws
  /// media_error: `exists` if a live render holds it, `unwritable` if it
  /// cannot be made.
  explicit render_state(const std::string& output_path);
  /// Removes the folder and everything in it, unless `keep_on_exit`.
  ~render_state();
  render_state(const render_state&) = delete;
  render_state& operator=(const render_state&) = delete;

  const std::string& folder() const noexcept { return folder_; }
  std::string path_of(std::string_view name) const { return folder_ + "/" + std::string{name}; }

  /// True if the folder was there from a render that died.
  bool leftover() const noexcept { return leftover_; }

  /// The checkpoint the dead render left, if it left a readable one.
  std::optional<checkpoint_record> load_checkpoint() const;

  /// Stores a checkpoint atomically (a temporary file renamed over the last
  /// one). Throws media_error(io) if it cannot be written.
  void save_checkpoint(const checkpoint_record& record);

  /// Removes every file but the lock (a fresh start over a dead render's state).
  void clear();

  /// A partial output name not used in the folder yet ("partial-1", ...).
  std::string fresh_partial_name() const;

  /// Tests: leave the folder behind, as a process that dies would.
  void keep_on_exit() noexcept { keep_ = true; }

private:
  std::string folder_;
  int lock_fd_ = -1;
  bool leftover_ = false;
  bool keep_ = false;
};

} // namespace loophole::media
