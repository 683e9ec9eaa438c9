#pragma once

// The media pool: knows every media file by its content hash, probes files
// (header + hash, in parallel, cached by path, size and modification time),
// and hands out leases on media Signal needs in memory: files at another rate
// than the session, and the derived media of warped clips (rendered from
// their parent file, media/warp_renderer.hpp), are made once into shared
// memory and shared by every job that plays them; files at the session rate
// are streamed from disk by the job's feeder and need no memory of their own.
//
// Runs detached (it blocks on disk and CPU).

#include <map>
#include <memory>

#include "actors/pulse_context.hpp"
#include "caf/replies_to.hpp"
#include "caf/stateful_actor.hpp"
#include "caf/typed_actor.hpp"
#include "caf/typed_event_based_actor.hpp"
#include "messages/type_ids.hpp"

namespace loophole::media {
class media_id_cache;
class shared_memory;
} // namespace loophole::media

namespace loophole::actors {

using media_pool_actor = caf::typed_actor<
  caf::replies_to<atoms::probe_atom, std::vector<std::string>, uint32_t>::with<
    std::vector<messages::media_info>>,
  caf::replies_to<atoms::acquire_atom, std::vector<messages::media_info>>::with<
    std::vector<messages::media_lease>>,
  caf::reacts_to<atoms::release_atom, std::vector<std::string>>,
  // A pre-analysis pass (specification section 13): the transients of what
  // an analysis region covers, in timeline frames, at the session rate.
  caf::replies_to<atoms::analyse_atom, uint32_t, messages::resolved_analysis>::with<
    std::vector<int64_t>>>;

/// The pool's state. It lives outside the actor (start_pulse holds it), so
/// a media pool restarted by its supervisor goes on with the same probes,
/// resident buffers and leases.
struct media_pool_state {
  struct probed {
    int64_t size = 0;
    int64_t mtime_ns = 0;
    messages::media_info info;
  };
  struct resident {
    std::shared_ptr<media::shared_memory> memory;
    uint32_t leases = 0;
  };
  std::map<std::string, probed> probes; // by path
  std::unique_ptr<media::media_id_cache> ids; // persistent, across runs
  std::map<std::string, resident> resampled; // by shared memory name
  /// Transients found by pre-analysis passes, by what was analysed (rate,
  /// media ids and placements): a session rendered again, or two clips on
  /// the same stretch of media, are analysed once.
  std::map<std::string, std::vector<int64_t>> transients;
  media_pool_state();
  ~media_pool_state();
  static inline const char* name = "media_pool";
};

media_pool_actor::behavior_type media_pool(media_pool_actor::pointer self, context_ptr ctx,
                                           std::shared_ptr<media_pool_state> state);

} // namespace loophole::actors
