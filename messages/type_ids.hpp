#pragma once

// The project's CAF type-ID block and atoms: every internal message type is
// listed here once, and kernel::configure registers the block with the actor
// system. Atoms are at most 10 characters (CAF 0.17).

#include <string>
#include <vector>

#include "caf/actor.hpp"
#include "caf/atom.hpp"
#include "caf/type_id.hpp"
#include "messages/render_messages.hpp"
#include "messages/session_document.hpp"

CAF_BEGIN_TYPE_ID_BLOCK(loophole, caf::first_custom_type_id)

  CAF_ADD_TYPE_ID(loophole, (loophole::messages::session_document))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::render_settings))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::media_info))
  CAF_ADD_TYPE_ID(loophole, (std::vector<loophole::messages::media_info>))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::media_lease))
  CAF_ADD_TYPE_ID(loophole, (std::vector<loophole::messages::media_lease>))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::render_plan))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::render_progress))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::render_summary))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::instance_status))
  CAF_ADD_TYPE_ID(loophole, (std::vector<loophole::messages::instance_status>))
  CAF_ADD_TYPE_ID(loophole, (loophole::signal::render_graph))
  CAF_ADD_TYPE_ID(loophole, (std::vector<std::string>))
  CAF_ADD_TYPE_ID(loophole, (loophole::messages::resolved_analysis))
  CAF_ADD_TYPE_ID(loophole, (std::vector<int64_t>))

CAF_END_TYPE_ID_BLOCK(loophole)

namespace loophole::atoms {

using load_atom = caf::atom_constant<caf::atom("load")>;
using resolve_atom = caf::atom_constant<caf::atom("resolve")>;
using probe_atom = caf::atom_constant<caf::atom("probe")>;
using acquire_atom = caf::atom_constant<caf::atom("acquire")>;
using release_atom = caf::atom_constant<caf::atom("release")>;
using render_atom = caf::atom_constant<caf::atom("render")>;
using progress_atom = caf::atom_constant<caf::atom("progress")>;
using lease_atom = caf::atom_constant<caf::atom("lease")>;
using attach_atom = caf::atom_constant<caf::atom("attach")>;
using detach_atom = caf::atom_constant<caf::atom("detach")>;
using submit_atom = caf::atom_constant<caf::atom("submit")>;
using frame_atom = caf::atom_constant<caf::atom("frame")>;
using exited_atom = caf::atom_constant<caf::atom("exited")>;
using tick_atom = caf::atom_constant<caf::atom("tick")>;
using lost_atom = caf::atom_constant<caf::atom("lost")>;
using status_atom = caf::atom_constant<caf::atom("status")>;
using stop_atom = caf::atom_constant<caf::atom("stop")>;
using plan_atom = caf::atom_constant<caf::atom("plan")>;
using fill_atom = caf::atom_constant<caf::atom("fill")>;
using write_atom = caf::atom_constant<caf::atom("write")>;
using commit_atom = caf::atom_constant<caf::atom("commit")>;
using resume_atom = caf::atom_constant<caf::atom("resume")>;
using kill_atom = caf::atom_constant<caf::atom("kill")>;
using analyse_atom = caf::atom_constant<caf::atom("analyse")>;

} // namespace loophole::atoms
