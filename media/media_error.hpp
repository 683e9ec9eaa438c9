#pragma once

// Failures of the media layer. The layer throws these; the actors that call
// it catch them at the boundary and turn them into the project's errors.

#include <stdexcept>
#include <string>

namespace loophole::media {

enum class failure : uint8_t {
  not_found,   ///< A file that cannot be opened.
  unreadable,  ///< A file that cannot be decoded.
  unsupported, ///< A format or setting the encoder does not take.
  exists,      ///< The output exists and replacing it was not allowed.
  unwritable,  ///< The output (or its temporary file) cannot be created.
  io,          ///< A write, sync, check or rename failed.
  resources,   ///< Shared memory or another resource could not be had.
};

class media_error : public std::runtime_error {
public:
  media_error(failure kind, const std::string& message)
    : std::runtime_error(message), kind_(kind) {}

  failure kind() const noexcept { return kind_; }

private:
  failure kind_;
};

} // namespace loophole::media
