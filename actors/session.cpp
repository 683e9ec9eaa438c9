#include "actors/session.hpp"

#include "drivers/session_file.hpp"
#include "kernel/error.hpp"

namespace loophole::actors {

session_actor::behavior_type session(session_actor::pointer, std::shared_ptr<session_state> state) {
  return {
    [state](atoms::load_atom, const std::string& path) -> caf::result<messages::session_document> {
      try {
        state->document = drivers::read_session_file(path);
        return *state->document;
      } catch (const drivers::session_error& e) {
        return kernel::make_error(e.which() == drivers::session_error::kind::not_found
                                    ? kernel::errc::session_not_found
                                    : kernel::errc::bad_session,
                                  e.what());
      }
    },
    [state](caf::get_atom) -> caf::result<messages::session_document> {
      if (!state->document)
        return kernel::make_error(kernel::errc::bad_session, "no session is loaded");
      return *state->document;
    },
  };
}

} // namespace loophole::actors
