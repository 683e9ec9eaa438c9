#pragma once

// The project's error enum: every failure an actor reports is one of these,
// with a message that names the place and the reason. Each maps to a
// sysexits-style process exit code.

#include <cstdint>
#include <string>

#include "caf/atom.hpp"
#include "caf/error.hpp"
#include "caf/make_message.hpp"

namespace loophole::kernel {

enum class errc : uint8_t {
  none = 0,
  usage = 1,               ///< A command line that makes no sense.
  bad_session = 2,         ///< A session file that is not valid.
  session_not_found = 3,   ///< A session file that cannot be opened.
  media_not_found = 4,     ///< A media file that cannot be opened.
  bad_media = 5,           ///< A media file that cannot be decoded.
  bad_graph = 6,           ///< A RenderGraph that failed validation.
  output_exists = 7,       ///< The output exists and --force was not given.
  output_unwritable = 8,   ///< The output cannot be created.
  output_failed = 9,       ///< Writing, checking or renaming the output failed.
  worker_failed = 10,      ///< A Signal instance failed and could not be recovered.
  worker_unavailable = 11, ///< No Signal instance could be started.
  bad_config = 12,         ///< A configuration file or variable that is not valid.
  internal = 13,           ///< A bug: an invariant did not hold.
  cancelled = 14,          ///< The job was cancelled.
  protocol = 15,           ///< A peer spoke the wire protocol wrongly.
  node_failed = 16,        ///< A node kept taking its Signal instance down, even quarantined.
  non_finite = 17,         ///< A node produced NaN or infinity.
};

/// The error category of the project's errors in CAF.
inline constexpr caf::atom_value error_category = caf::atom("loophole");

std::string to_string(errc x);

/// Makes a CAF error of the project's category with a message.
caf::error make_error(errc code, std::string message);

/// Makes a CAF error without a message (CAF's `make_error` hook).
caf::error make_error(errc code);

/// The sysexits-style exit code for an error (64 usage, 65 data, 66 no input,
/// 70 software, 73 cannot create, 74 I/O, 78 config).
int exit_code_of(const caf::error& err);

/// The message of an error made by `make_error`, or CAF's rendering of others.
std::string describe(const caf::error& err);

} // namespace loophole::kernel
