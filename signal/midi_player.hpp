#pragma once

// What the instrument nodes (the sine instrument, the sampler, the synth)
// share: walking their sample-stamped MIDI events block by block, the
// channel state the events set (CC 7 volume, pitch bend), finding voices for
// notes, and the header of their snapshots. Each instrument derives from
// midi_player<itself> and provides:
//
//   void render(int64_t from, int64_t to, int64_t block_start) noexcept;
//       adds frames [from, to) of its voices into its buffer;
//   void retire(int64_t frame) noexcept;     frees the voices silent from `frame` on;
//   void note_on(int64_t frame, uint8_t key, uint8_t velocity) noexcept;
//   void note_off(int64_t frame, uint8_t key) noexcept;
//   void bend_changed(int64_t frame) noexcept; after bend_ changed at `frame`;
//   void reset_voices() noexcept;            every voice silent;
//   static constexpr bool seeks_from_start;  a jump replays every event from frame 0
//                                            (voices whose state is a running
//                                            value), not from the current frame.
//
// Events apply before the frame they sit on, in the graph's order (note-offs,
// controllers, note-ons), so any split into blocks gives the same bits.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "signal/render_graph.hpp"
#include "signal/state_io.hpp"

namespace loophole::signal {

template <class Instrument>
class midi_player {
protected:
  explicit midi_player(std::vector<midi_event> events) : events_(std::move(events)) {}

  /// Bytes of the header snapshot_header writes.
  static constexpr size_t header_bytes = sizeof(int64_t) + 2 * sizeof(int32_t);

  /// Renders timeline frames [b0, b1): the voices between events, each event
  /// applied at its frame.
  void play(int64_t b0, int64_t b1) noexcept {
    auto& self = static_cast<Instrument&>(*this);
    if (b0 != frame_)
      seek(b0);
    auto it = first_event_at(b0);
    for (int64_t at = b0; at < b1;) {
      const int64_t next = it != events_.end() && it->frame < b1 ? it->frame : b1;
      self.render(at, next, b0);
      self.retire(next);
      at = next;
      for (; it != events_.end() && it->frame == at && at < b1; ++it)
        apply(*it);
    }
    frame_ = b1;
  }

  /// A free voice (the lowest slot), else the one `rank` puts first (the
  /// lowest slot on ties).
  template <class Voice, class Rank>
  static Voice& voice_for_note(std::vector<Voice>& voices, Rank rank) noexcept {
    for (auto& v : voices)
      if (!v.active)
        return v;
    Voice* slot = &voices.front();
    for (auto& v : voices)
      if (rank(v) < rank(*slot))
        slot = &v;
    return *slot;
  }

  /// The oldest held note of `key` (the one a note-off ends), or null.
  template <class Voice>
  static Voice* oldest_held(std::vector<Voice>& voices, uint8_t key) noexcept {
    Voice* held = nullptr;
    for (auto& v : voices)
      if (v.active && v.off < 0 && v.key == key && (!held || v.on < held->on))
        held = &v;
    return held;
  }

  /// A snapshot: the channel state, then each voice through `write(w, v)`,
  /// then whatever `rest(w)` adds (`voice_bytes` a voice, `rest_bytes` more).
  template <class Voice, class Write, class Rest>
  std::vector<std::byte> snapshot_voices(const std::vector<Voice>& voices, size_t voice_bytes,
                                         size_t rest_bytes, Write write, Rest rest) const {
    state_writer w(header_bytes + voices.size() * voice_bytes + rest_bytes);
    w.put(frame_);
    w.put(volume_);
    w.put(bend_);
    for (const auto& v : voices)
      write(w, v);
    rest(w);
    return w.take();
  }

  /// Restores what snapshot_voices wrote: each voice through `read(r, v)`
  /// (false: not a valid voice), then `rest(r)`. All or nothing for the
  /// channel state and the voices.
  template <class Voice, class Read, class Rest>
  bool restore_voices(std::span<const std::byte> state, std::vector<Voice>& voices, Read read,
                      Rest rest) {
    state_reader r(state);
    int64_t frame = 0;
    int32_t volume = 0, bend = 0;
    if (!r.get(frame) || !r.get(volume) || !r.get(bend) || frame < 0 || volume < 0 ||
        volume > 127 || bend < -8192 || bend > 8191)
      return false;
    auto restored = voices;
    for (auto& v : restored)
      if (!read(r, v) || v.key > 127 || v.velocity > 127 || v.active > 1)
        return false;
    if (!rest(r) || !r.complete())
      return false;
    frame_ = frame;
    volume_ = volume;
    bend_ = bend;
    voices = std::move(restored);
    return true;
  }

  std::vector<midi_event> events_;
  int64_t frame_ = 0;      ///< the next frame to compute
  int32_t volume_ = 127;   ///< CC 7
  int32_t bend_ = 0;       ///< -8192..8191, +-2 semitones

private:
  std::vector<midi_event>::const_iterator first_event_at(int64_t frame) const noexcept {
    return std::lower_bound(events_.begin(), events_.end(), frame,
                            [](const midi_event& e, int64_t f) { return e.frame < f; });
  }

  void apply(const midi_event& e) noexcept {
    auto& self = static_cast<Instrument&>(*this);
    switch (e.status) {
      case midi_status::note_on:
        if (e.data2 != 0) {
          self.note_on(e.frame, e.data1, e.data2);
          return;
        }
        [[fallthrough]];
      case midi_status::note_off:
        self.note_off(e.frame, e.data1);
        return;
      case midi_status::control_change:
        if (e.data1 == 7)
          volume_ = e.data2; // other controllers are accepted and ignored
        return;
      case midi_status::pitch_bend:
        bend_ = (e.data2 << 7 | e.data1) - 8192;
        self.bend_changed(e.frame);
        return;
      default:
        return;
    }
  }

  // Brings the state to `frame` without sounding: the events before it, in
  // order, as play would apply them.
  void seek(int64_t frame) noexcept {
    auto& self = static_cast<Instrument&>(*this);
    if (frame < frame_ || Instrument::seeks_from_start) {
      self.reset_voices();
      frame_ = 0;
      volume_ = 127;
      bend_ = 0;
    }
    for (auto it = first_event_at(frame_); it != events_.end() && it->frame < frame; ++it) {
      self.retire(it->frame);
      apply(*it);
    }
    self.retire(frame);
    frame_ = frame;
  }
};

} // namespace loophole::signal
