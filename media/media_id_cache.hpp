#pragma once

// A persistent cache of media identities (content hashes), so that rendering
// the same session again does not read every byte of every file to hash it.
// Like git's index, it trusts a file unchanged while its device, inode, size,
// modification time and change time (which no user call can set back) are
// all unchanged; anything else is hashed again.
//
// Stored as text, one file per user ($XDG_CACHE_HOME/loophole/media-ids.tsv);
// a line that does not parse is ignored, and a cache that cannot be read or
// written is simply not used.
//
// Thread contract: one thread at a time.

#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>

namespace loophole::media {

class media_id_cache {
public:
  /// An empty cache that is never saved.
  media_id_cache() = default;

  /// Loads `path` (missing: empty). Nothing here throws.
  explicit media_id_cache(std::string path);

  /// The default location: $XDG_CACHE_HOME/loophole/media-ids.tsv, or
  /// ~/.cache/loophole/media-ids.tsv; empty if neither can be found.
  static std::string default_path();

  /// The cached id of the file `st` describes, if it is unchanged.
  std::optional<std::string> find(const struct stat& st) const;

  /// Records the id of the file `st` describes.
  void put(const struct stat& st, const std::string& media_id);

  /// Writes the cache back (atomically) if it changed. Errors are ignored.
  void save();

  /// The most entries kept; the oldest inserted beyond it are dropped.
  static constexpr size_t max_entries = 100000;

private:
  struct entry {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    int64_t ctime_ns = 0;
    std::string media_id;
  };
  using key = std::tuple<uint64_t, uint64_t>; // device, inode

  std::string path_;
  std::map<key, entry> entries_;
  bool dirty_ = false;
};

} // namespace loophole::media
