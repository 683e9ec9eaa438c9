#pragma once

// The session actor: owns the session document (the model). Other actors ask
// it for the document; loading replaces it.

#include <memory>
#include <optional>

#include "caf/stateful_actor.hpp"
#include "caf/typed_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "caf/replies_to.hpp"
#include "messages/type_ids.hpp"

namespace loophole::actors {

/// (load, path) reads and validates a session file and makes it current;
/// (get) answers the current one.
using session_actor = caf::typed_actor<
  caf::replies_to<atoms::load_atom, std::string>::with<messages::session_document>,
  caf::replies_to<caf::get_atom>::with<messages::session_document>>;

/// Held outside the actor, so a restarted session actor keeps the document.
struct session_state {
  std::optional<messages::session_document> document;
  static inline const char* name = "session";
};

session_actor::behavior_type session(session_actor::pointer self,
                                     std::shared_ptr<session_state> state);

} // namespace loophole::actors
