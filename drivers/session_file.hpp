#pragma once

// Reading session files (format v1, docs/session-format.md) into a
// session_document. Every rule of the format is checked here; a violation is
// reported with the file, the JSON pointer of the offending value, and the
// reason, e.g. "song.json: /tracks/2/gain_db: 40 is above the maximum 24".

#include <stdexcept>
#include <string>

#include "messages/session_document.hpp"

namespace loophole::drivers {

class session_error : public std::runtime_error {
public:
  enum class kind : uint8_t { not_found, invalid };

  session_error(kind k, const std::string& message) : std::runtime_error(message), kind_(k) {}

  kind which() const noexcept { return kind_; }

private:
  kind kind_;
};

/// The largest session file accepted.
inline constexpr size_t max_session_bytes = 64u << 20;

/// Reads and validates `path`. Media paths are resolved against its folder.
/// Throws session_error.
messages::session_document read_session_file(const std::string& path);

/// Parses and validates session JSON text; `path` names it in errors and
/// anchors relative media paths. Throws session_error.
messages::session_document parse_session(const std::string& text, const std::string& path);

} // namespace loophole::drivers
