#pragma once

// POSIX shared memory segments: Pulse creates them (media windows, bus
// slots), Signal instances map them by name. Names are
// "/loophole.<creator pid>.<tag>" so `remove_orphans` can find segments whose
// creator died and unlink them.

#include <cstddef>
#include <string>

namespace loophole::media {

class shared_memory {
public:
  shared_memory() = default;
  shared_memory(shared_memory&& other) noexcept;
  shared_memory& operator=(shared_memory&& other) noexcept;
  shared_memory(const shared_memory&) = delete;
  shared_memory& operator=(const shared_memory&) = delete;
  ~shared_memory(); ///< Unmaps; unlinks if this object created the segment.

  /// Creates a new zero-filled segment of `bytes` named after this process
  /// and `tag`. Throws media_error.
  static shared_memory create(const std::string& tag, size_t bytes);

  /// Maps an existing segment read-write. Throws media_error.
  static shared_memory open(const std::string& name, size_t bytes);

  std::byte* data() const noexcept { return data_; }
  size_t size() const noexcept { return size_; }
  const std::string& name() const noexcept { return name_; }

  /// Unlinks segments named "/loophole.<pid>.*" whose pid no longer runs.
  /// Returns how many it removed.
  static size_t remove_orphans();

private:
  std::string name_;
  std::byte* data_ = nullptr;
  size_t size_ = 0;
  bool owner_ = false;
};

} // namespace loophole::media
