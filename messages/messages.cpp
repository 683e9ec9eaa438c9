#include "messages/render_messages.hpp"
#include "messages/session_document.hpp"

namespace loophole::messages {

std::string to_string(time_unit x) {
  switch (x) {
    case time_unit::beats:
      return "beats";
    case time_unit::seconds:
      return "seconds";
    case time_unit::bars:
      return "bars";
    case time_unit::samples:
      return "samples";
  }
  return "unknown";
}

std::string to_string(instance_state x) {
  switch (x) {
    case instance_state::starting:
      return "starting";
    case instance_state::ready:
      return "ready";
    case instance_state::busy:
      return "busy";
    case instance_state::restarting:
      return "restarting";
    case instance_state::failed:
      return "failed";
    case instance_state::stopped:
      return "stopped";
  }
  return "unknown";
}

std::string to_string(analysis_state x) {
  switch (x) {
    case analysis_state::fresh:
      return "fresh";
    case analysis_state::stale:
      return "stale";
    case analysis_state::unanalysed:
      return "unanalysed";
  }
  return "unknown";
}

} // namespace loophole::messages
