#pragma once

// Loudness normalisation of a mixdown, in two render passes (docs/render-modes.md):
//   1. a measuring pass renders the mix and meters it after the master fader
//      (libebur128: integrated loudness, true peak), writing no file;
//   2. the real render, with the one gain that brings the integrated loudness
//      to the target, lowered when the true peak would pass the ceiling.
// A gain, not a limiter: the mix keeps its dynamics and its peaks, and the
// result is the same bytes whatever the workers, as every render is.
//
// The two passes are one job of the render orchestrator: an actor that runs
// the two render jobs in turn and answers with the second's summary, its
// `normalization` filled in.

#include <optional>
#include <string>
#include <string_view>

#include "actors/pulse_context.hpp"
#include "caf/actor.hpp"
#include "caf/actor_system.hpp"
#include "messages/type_ids.hpp"

namespace loophole::actors {

/// The labels of the nodes the resolver adds on the master for it.
inline constexpr std::string_view loudness_gain_label = "master / loudness gain";
inline constexpr std::string_view loudness_meter_label = "master / loudness";

/// "ebu-r128" (-23 LUFS, -1 dBTP), "streaming" (-14 LUFS, -1 dBTP),
/// "atsc-a85" (-24 LKFS, -2 dBTP), or a number of LUFS in [-70, 0] (ceiling
/// -1 dBTP). Empty with `why` set when the text is none of these.
std::optional<messages::loudness_target> parse_loudness_target(std::string_view text,
                                                               std::string& why);

/// How far under the ceiling a gain set by it stops: room for the gain's
/// rounding to the graph's sample type and for the dither (a 16-bit LSB is
/// 0.0003 dB of a peak at -1 dBFS).
inline constexpr double ceiling_margin_db = 0.01;

/// The most the loudness gain gives: the `gain` node's range (x1000).
inline constexpr double max_normalization_gain_db = 60.0;

/// The gain in dB the second pass applies, and what set it: the target, the
/// ceiling (then the true peak lands ceiling_margin_db under it) or the
/// largest gain there is. A silent mix (integrated loudness -inf) gets none.
struct normalization_gain_db {
  double gain_db = 0.0;
  bool limited_by_ceiling = false;
  bool limited_by_range = false;
};
normalization_gain_db normalization_gain(const messages::loudness_target& target,
                                         double measured_lufs,
                                         double measured_true_peak_dbtp) noexcept;

/// Spawns the two-pass job (render jobs number `measure_job` then
/// `render_job_id`), linked to both passes in turn. It
/// starts when sent render_atom and answers with the summary of the second
/// pass or an error; an exit message cancels whichever pass is running.
caf::actor spawn_loudness_job(caf::actor_system& sys, context_ptr ctx, uint64_t measure_job,
                              uint64_t render_job_id, messages::render_plan plan,
                              messages::render_settings settings, caf::actor listener);

} // namespace loophole::actors
