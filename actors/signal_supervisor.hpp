#pragma once

// One supervisor actor per Signal instance: it starts the `loophole-signal`
// process, waits for its hello, watches its heartbeats (sent by the DSP loop
// itself, so a loop stuck inside a node goes silent), and turns every way the
// process can end (exit, crash, kill, silence) into a message. It restarts
// the process within an OTP-style intensity limit; past it, the instance is
// failed and says so.
//
// Messages (a dynamically typed actor: the router and the reaper thread post
// to it):
//   (attach, client) -> bool           lease the instance to a job actor, once ready
//   (detach)                           end the lease
//   (submit, frame)                    send a wire frame to the process
//   (status) -> instance_status
//   (frame, bytes)      from the router: a frame from the process
//   (exited, pid, signalled, code)     from the reaper
//   (tick)                             its own timer
// The client receives (frame, bytes) for job frames and (lost, reason) when
// the process is gone.

#include <cstdint>

#include "actors/pulse_context.hpp"
#include "caf/actor.hpp"
#include "caf/behavior.hpp"
#include "caf/actor_system.hpp"

namespace loophole::actors {

/// Spawns the supervisor of instance `index`, linked to `parent`.
/// Spawns the supervisor of instance `index`. It tells the Signal pool
/// (found by its registry name, whichever incarnation it is) when its
/// instance fails for good.
caf::actor spawn_signal_supervisor(caf::actor_system& sys, context_ptr ctx, uint32_t index);

} // namespace loophole::actors
