#include "kernel/error.hpp"

#include <sysexits.h>

#include "caf/message.hpp"
#include "caf/sec.hpp"
#include "messages/wire/signal_protocol.hpp"

namespace loophole::kernel {

static_assert(wire::failure_code::bad_graph == static_cast<uint32_t>(errc::bad_graph));
static_assert(wire::failure_code::worker_failed == static_cast<uint32_t>(errc::worker_failed));
static_assert(wire::failure_code::protocol == static_cast<uint32_t>(errc::protocol));
static_assert(wire::failure_code::non_finite == static_cast<uint32_t>(errc::non_finite));

std::string to_string(errc x) {
  switch (x) {
    case errc::none:
      return "none";
    case errc::usage:
      return "usage";
    case errc::bad_session:
      return "bad_session";
    case errc::session_not_found:
      return "session_not_found";
    case errc::media_not_found:
      return "media_not_found";
    case errc::bad_media:
      return "bad_media";
    case errc::bad_graph:
      return "bad_graph";
    case errc::output_exists:
      return "output_exists";
    case errc::output_unwritable:
      return "output_unwritable";
    case errc::output_failed:
      return "output_failed";
    case errc::worker_failed:
      return "worker_failed";
    case errc::worker_unavailable:
      return "worker_unavailable";
    case errc::bad_config:
      return "bad_config";
    case errc::internal:
      return "internal";
    case errc::cancelled:
      return "cancelled";
    case errc::protocol:
      return "protocol";
    case errc::node_failed:
      return "node_failed";
    case errc::non_finite:
      return "non_finite";
  }
  return "unknown";
}

caf::error make_error(errc code, std::string message) {
  return caf::error{static_cast<uint8_t>(code), error_category,
                    caf::make_message(std::move(message))};
}

caf::error make_error(errc code) {
  return caf::error{static_cast<uint8_t>(code), error_category};
}

int exit_code_of(const caf::error& err) {
  if (!err)
    return EX_OK;
  if (err.category() != error_category)
    return EX_SOFTWARE;
  switch (static_cast<errc>(err.code())) {
    case errc::none:
      return EX_OK;
    case errc::usage:
      return EX_USAGE;
    case errc::bad_session:
    case errc::bad_media:
    case errc::bad_graph:
      return EX_DATAERR;
    case errc::session_not_found:
    case errc::media_not_found:
      return EX_NOINPUT;
    case errc::output_exists:
    case errc::output_unwritable:
      return EX_CANTCREAT;
    case errc::output_failed:
      return EX_IOERR;
    case errc::worker_failed:
    case errc::worker_unavailable:
      return EX_UNAVAILABLE;
    case errc::bad_config:
      return EX_CONFIG;
    case errc::protocol:
      return EX_PROTOCOL;
    case errc::internal:
    case errc::cancelled:
    case errc::node_failed:
    case errc::non_finite:
      return EX_SOFTWARE;
  }
  return EX_SOFTWARE;
}

std::string describe(const caf::error& err) {
  if (!err)
    return "no error";
  if (err.category() == error_category) {
    const auto& ctx = err.context();
    if (ctx.match_elements<std::string>())
      return ctx.get_as<std::string>(0);
    return to_string(static_cast<errc>(err.code()));
  }
  if (err.category() == caf::atom("system"))
    return "actor system: " + caf::to_string(static_cast<caf::sec>(err.code()));
  return "error " + std::to_string(err.code());
}

} // namespace loophole::kernel
