#include "actors/session.hpp"

#include "drivers/session_file.hpp"
#include "kernel/error.hpp"

namespace loophole::actors {

session_actor::behavior_type session(session_actor::stateful_pointer<session_state> self) {
  return {
    [self](atoms::load_atom, const std::string& path) -> caf::result<messages::session_document> {
      try {
        self->state.document = drivers::read_session_file(path);
        return *self->state.document;
      } catch (const drivers::session_error& e) {
        return kernel::make_error(e.which() == drivers::session_error::kind::not_found
                                    ? kernel::errc::session_not_found
                                    : kernel::errc::bad_session,
                                  e.what());
      }
    },
    [self](caf::get_atom) -> caf::result<messages::session_document> {
      if (!self->state.document)
        return kernel::make_error(kernel::errc::bad_session, "no session is loaded");
      return *self->state.document;
    },
  };
}

} // namespace loophole::actors
