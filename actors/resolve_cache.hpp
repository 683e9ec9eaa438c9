#pragma once

// Incremental timeline resolution: what one audible track adds to the
// RenderGraph, resolved on its own (a fragment), and a bounded cache of
// fragments keyed by a hash of everything that resolution reads. An edit of
// one clip then resolves one track again and reuses the others'.

#include "messages/render_messages.hpp"
#include "messages/session_document.hpp"
#include "signal/render_graph.hpp"

#include <cstdint>
#include <list>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace loophole::actors {

/// A track's part of the graph with its own numbering: nodes are numbered
/// from 0 (ids and inputs) in partition 0, and their media regions index
/// `media`. The timeline resolver renumbers it into the graph.
/// The transients of grooved audio clips (media frames), by
/// `transient_key` of the stretch of media analysed.
using clip_transients = std::map<std::string, std::vector<int64_t>>;

struct track_fragment {
  /// A medium the nodes play: a probe of `path` (the session's media path),
  /// or, `path` empty, derived media (a warped clip's) described by `info`.
  struct medium {
    std::string path;
    messages::media_info info;
  };
  signal::render_graph graph; ///< Only `nodes` is used.
  std::vector<medium> media;
  int64_t end_frame = 0; ///< Where the track's last clip or note ends.
  uint32_t output = 0;   ///< The node its output takes (the pan).
  uint32_t pre_fader = 0; ///< What the fader takes: pre-fader sends and sidechains tap it.
  /// The node and parameter each of the track's modulators (in order) goes
  /// on (node -1: a bypassed insert); their clocks depend on the session's
  /// end, so they are attached when the graph is assembled.
  std::vector<std::pair<uint32_t, std::string>> modulated;
  /// Compressors and gates keyed by another strip: the node and the strip's
  /// id (the sidechain input is added when the graph is assembled).
  std::vector<std::pair<uint32_t, std::string>> sidechains;
  /// The modulators' clocks last made for a session ending at `clocks_end`
  /// (a function of the key and the end alone, so kept while the end stays).
  std::vector<signal::modulation> clocks;
  int64_t clocks_end = -1;
  /// The pre-analysis passes its grooved clips still need (their transients
  /// were not given): asked for again whenever the fragment is used.
  std::vector<messages::resolved_analysis> analyses;
};

/// XXH3-128 of what a track's resolution depends on.
using track_key = std::pair<uint64_t, uint64_t>;

/// The key of track `track` of `doc`: its spec, the tempo and meter maps,
/// the sample rate, whether test nodes are allowed, the grooves its clips
/// name, `probes`, the probe of each media path it reads in order (clips,
/// impulse responses), and, if
/// it has grooved audio clips, the transients known.
/// Nothing else of the session is read by a track's resolution but for
/// error messages (the document's path, the track's index), and errors are
/// not cached.
track_key key_of_track(const messages::session_document& doc, size_t track, bool test_nodes,
                       const std::vector<const messages::media_info*>& probes,
                       const clip_transients& transients);

/// Fragments by key, the least recently used dropped beyond `capacity` when
/// a resolve is done (a resolve keeps the fragments it uses until then).
class resolve_cache {
public:
  explicit resolve_cache(size_t capacity = 512) : capacity_(capacity) {}

  /// The fragment of `key`, or null; counts a reuse when found. Fragments
  /// found or stored stay valid until `trim`.
  track_fragment* find(const track_key& key);

  /// Stores the fragment of a track just resolved (counted as resolved).
  track_fragment& store(const track_key& key, track_fragment fragment);

  /// Drops the least recently used fragments beyond the capacity.
  void trim();

  size_t size() const noexcept { return entries_.size(); }

  size_t resolved = 0; ///< Tracks resolved since the cache was made.
  size_t reused = 0;   ///< Tracks taken from the cache.

private:
  using entry = std::pair<track_key, track_fragment>;
  size_t capacity_;
  std::list<entry> entries_; ///< Most recently used first.
  std::map<track_key, std::list<entry>::iterator> index_;
};

} // namespace loophole::actors
