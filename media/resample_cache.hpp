#pragma once

// A cache of resampled media on disk: resampling a file to the session rate
// at the best quality costs far more than the render itself, and the result
// depends only on the file's content, the rate and the quality. So it is kept
// under $XDG_CACHE_HOME/loophole/resampled/, named by those three, with a
// checksum of its samples: a damaged or foreign file is ignored (and made
// again), never played. Derived media (warped clips) are kept the same way
// in $XDG_CACHE_HOME/loophole/warped/, each file recording its lineage: the
// id of the media it was made from.
//
// Thread contract: the functions may run on several threads at once (each
// writes to a temporary file of its own and renames it into place).

#include <optional>
#include <string>

#include "media/media_reader.hpp"

namespace loophole::media {

/// $XDG_CACHE_HOME/loophole/resampled (or ~/.cache/...); empty if neither exists.
std::string default_resample_cache_dir();

/// $XDG_CACHE_HOME/loophole/warped (or ~/.cache/...); empty if neither exists.
std::string default_warp_cache_dir();

/// The cached resampling of content `media_id` at `rate` and `quality`, if a
/// sound one is in `dir` (and, for derived media, made from `parent_id`).
/// Never throws.
std::optional<decoded_media> load_resampled(const std::string& dir, const std::string& media_id,
                                            uint32_t rate, resample_quality quality,
                                            const std::string& parent_id = {});

/// Stores `media` for later renders, with its parent's id if it is derived.
/// Errors (a full disk, no folder) are ignored: the cache is an
/// optimisation. Never throws.
void store_resampled(const std::string& dir, const std::string& media_id, uint32_t rate,
                     resample_quality quality, const decoded_media& media,
                     const std::string& parent_id = {});

} // namespace loophole::media
