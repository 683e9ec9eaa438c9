#pragma once

// The timeline resolver: turns a session document (musical and clock time,
// paths) into a RenderGraph in sample time (specification section 5), with
// the media it plays probed by the media pool. The graph it builds is
// validated before anyone sees it.
//
// The resolution itself is the pure function `resolve_timeline`, so it can be
// tested without actors.

#include <map>

#include "actors/pulse_context.hpp"
#include "actors/resolve_cache.hpp"
#include "caf/expected.hpp"
#include "caf/replies_to.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/type_ids.hpp"

namespace loophole::actors {

using timeline_resolver_actor = caf::typed_actor<caf::replies_to<
  atoms::resolve_atom, messages::session_document, messages::render_settings>::with<
  messages::render_plan>>;

/// Frames at `rate` of a time value, at `bpm` for beats: round half away
/// from zero of value * 60 / bpm * rate (beats), value * rate (seconds).
int64_t to_frames(const messages::time_value& t, double bpm, uint32_t rate) noexcept;

/// The unique media paths of the audible tracks, in first-use order.
std::vector<std::string> media_paths_of(const messages::session_document& doc);

/// Names the stretch of media a grooved clip plays.
std::string transient_key(const std::string& media_id, int64_t offset, int64_t length);

/// Builds the render plan. `media` holds the probe of each path of
/// `media_paths_of(doc)`, in that order. Errors name the JSON path.
/// Grooved audio clips are sliced at their transients from `transients`;
/// those not there are played unsliced and, if `missing` is given, the
/// pre-analysis passes that would find them are added to it (the resolver
/// actor runs them through the media pool and resolves again).
caf::expected<messages::render_plan>
resolve_timeline(const messages::session_document& doc, const messages::render_settings& settings,
                 const std::vector<messages::media_info>& media,
                 const clip_transients& transients = {},
                 std::vector<messages::resolved_analysis>* missing = nullptr);

/// The same, taking each track whose key is in `cache` from there and
/// storing those it resolves: the plan is the same either way.
caf::expected<messages::render_plan>
resolve_timeline(const messages::session_document& doc, const messages::render_settings& settings,
                 const std::vector<messages::media_info>& media, resolve_cache& cache,
                 const clip_transients& transients = {},
                 std::vector<messages::resolved_analysis>* missing = nullptr);

struct timeline_resolver_state {
  /// Requests waiting for the media pool, answered with an error if the
  /// resolver is stopped first (CAF 0.17 drops such promises silently).
  std::map<uint64_t, caf::typed_response_promise<messages::render_plan>> pending;
  uint64_t next_request = 0;
  /// Tracks resolved before, so a session edited and rendered again resolves
  /// only the tracks that changed.
  resolve_cache cache;
  static inline const char* name = "timeline_resolver";
};

timeline_resolver_actor::behavior_type
timeline_resolver(timeline_resolver_actor::stateful_pointer<timeline_resolver_state> self);

} // namespace loophole::actors
