#pragma once

// Resolving a clip's warp (session format, "Warp"): its markers, already in
// frames, become a warp map from the clip's source offset on, and the clip
// plays the derived media that map makes of its file. Kept apart from the
// timeline resolver, which calls it once per warped clip.

#include <cstdint>
#include <functional>
#include <string>

#include "caf/expected.hpp"
#include "messages/render_messages.hpp"
#include "messages/session_document.hpp"

namespace loophole::actors {

/// The derived media a warped clip plays, made from `parent` (probed at the
/// session rate). The map starts at (`offset`, 0); a marker at timeline 0 on
/// that very source frame repeats it. After the last marker the map goes on
/// at the last segment's speed to the end of the media. `source_frames` and
/// `timeline_frames` turn a marker's time values into frames (of the media;
/// from the clip's start). `fail(pointer, reason)` makes the error, the
/// pointer relative to the clip ("/warp/markers/1/source").
caf::expected<messages::media_info>
resolve_warp(const messages::warp_spec& warp, const messages::media_info& parent, int64_t offset,
             const std::function<int64_t(const messages::time_value&)>& source_frames,
             const std::function<int64_t(const messages::time_value&)>& timeline_frames,
             const std::function<caf::error(const std::string&, const std::string&)>& fail);

} // namespace loophole::actors
