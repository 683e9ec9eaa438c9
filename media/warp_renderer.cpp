#include "media/warp_renderer.hpp"

#include <rubberband/RubberBandStretcher.h>
#include <samplerate.h>

#include <algorithm>
#include <map>
#include <memory>

#include "media/media_error.hpp"
#include "media/render_state.hpp"

namespace loophole::media {

namespace {

constexpr int64_t block = 4096;

decoded_media silent(uint16_t channels, int64_t frames) {
  decoded_media out;
  out.channels = channels;
  out.frames = frames;
  out.samples.assign(static_cast<size_t>(frames) * channels, 0.0f);
  return out;
}

decoded_media stretch(const decoded_media& src, const std::vector<warp_point>& map,
                      uint32_t rate) {
  using RubberBand::RubberBandStretcher;
  const int64_t first = map.front().source;
  const int64_t in_frames = map.back().source - first;
  const int64_t out_frames = map.back().timeline;
  const size_t nc = src.channels;
  // Offline, R3 ("finer"), and never a thread of its own: the output then
  // depends on nothing but the input.
  RubberBandStretcher rb(rate, nc,
                         RubberBandStretcher::OptionProcessOffline |
                           RubberBandStretcher::OptionEngineFiner |
                           RubberBandStretcher::OptionThreadingNever |
                           RubberBandStretcher::OptionChannelsTogether,
                         static_cast<double>(out_frames) / static_cast<double>(in_frames));
  rb.setExpectedInputDuration(static_cast<size_t>(in_frames));
  rb.setMaxProcessSize(static_cast<size_t>(block));
  std::vector<const float*> in(nc);
  auto feed = [&](auto&& step) {
    for (int64_t pos = 0; pos < in_frames; pos += block) {
      const auto n = std::min(block, in_frames - pos);
      for (size_t c = 0; c < nc; ++c)
        in[c] = src.samples.data() + static_cast<int64_t>(c) * src.frames + first + pos;
      step(static_cast<size_t>(n), pos + n == in_frames);
    }
  };
  feed([&](size_t n, bool final) { rb.study(in.data(), n, final); });
  if (map.size() > 2) {
    std::map<size_t, size_t> keys;
    for (size_t i = 1; i + 1 < map.size(); ++i)
      keys[static_cast<size_t>(map[i].source - first)] = static_cast<size_t>(map[i].timeline);
    rb.setKeyFrameMap(keys);
  }
  auto out = silent(src.channels, out_frames);
  int64_t done = 0;
  std::vector<float> scratch(static_cast<size_t>(block) * nc);
  std::vector<float*> dest(nc);
  auto drain = [&] {
    for (int avail; (avail = rb.available()) > 0;) {
      const auto n = std::min<int64_t>(avail, block);
      for (size_t c = 0; c < nc; ++c)
        dest[c] = scratch.data() + c * static_cast<size_t>(block);
      rb.retrieve(dest.data(), static_cast<size_t>(n));
      // Rubber Band's count may differ from the map's by a few frames: the
      // output is cut or padded with silence to the exact length.
      const auto keep = std::min(n, out_frames - done);
      for (size_t c = 0; c < nc && keep > 0; ++c)
        std::copy_n(dest[c], keep, out.samples.data() + static_cast<int64_t>(c) * out_frames + done);
      done += std::max<int64_t>(keep, 0);
    }
  };
  feed([&](size_t n, bool final) {
    rb.process(in.data(), n, final);
    drain();
  });
  drain();
  return out;
}

decoded_media varispeed(const decoded_media& src, const std::vector<warp_point>& map) {
  const auto nc = static_cast<size_t>(src.channels);
  // The converter sees real audio around the region, so its filter does not
  // ring at the edges: `context` frames before the first point (played at
  // speed 1 and thrown away) and after the last.
  constexpr int64_t context = 1024;
  const int64_t a = std::max<int64_t>(0, map.front().source - context);
  const int64_t b = std::min(src.frames, map.back().source + context);
  std::vector<float> in(static_cast<size_t>(b - a) * nc);
  for (size_t c = 0; c < nc; ++c)
    for (int64_t i = a; i < b; ++i)
      in[static_cast<size_t>(i - a) * nc + c] = src.samples[c * static_cast<size_t>(src.frames) +
                                                             static_cast<size_t>(i)];
  int err = 0;
  std::unique_ptr<SRC_STATE, SRC_STATE* (*)(SRC_STATE*)> st{
    src_new(SRC_SINC_BEST_QUALITY, static_cast<int>(nc), &err), src_delete};
  if (!st)
    throw media_error(failure::resources, std::string{"varispeed: "} + src_strerror(err));
  const int64_t out_frames = map.back().timeline;
  auto out = silent(src.channels, out_frames);
  std::vector<float> scratch(static_cast<size_t>(block) * nc);
  int64_t used = 0; // input frames the converter has taken
  int64_t made = 0; // output frames kept
  // Makes exactly `count` frames at `ratio` (output per input frame); the
  // converter's position then moves by count / ratio input frames, so each
  // segment starts exactly at its source frame. `keep`: store them.
  auto run = [&](double ratio, int64_t count, bool keep) {
    src_set_ratio(st.get(), ratio); // a step, not a ramp from the last ratio
    for (int64_t got = 0; got < count;) {
      SRC_DATA d{};
      d.data_in = in.data() + static_cast<size_t>(used) * nc;
      d.input_frames = b - a - used;
      d.end_of_input = d.input_frames == 0 ? 1 : 0;
      d.data_out = scratch.data();
      d.output_frames = std::min(block, count - got);
      d.src_ratio = ratio;
      if (int e = src_process(st.get(), &d); e != 0)
        throw media_error(failure::resources, std::string{"varispeed: "} + src_strerror(e));
      used += d.input_frames_used;
      const int64_t gen = d.output_frames_gen;
      if (keep)
        for (size_t c = 0; c < nc; ++c)
          for (int64_t i = 0; i < gen; ++i)
            out.samples[c * static_cast<size_t>(out_frames) + static_cast<size_t>(made + i)] =
              scratch[static_cast<size_t>(i) * nc + c];
      got += gen;
      made += keep ? gen : 0;
      if (gen == 0 && d.input_frames_used == 0 && d.end_of_input)
        return; // all flushed: the rest stays silent
    }
  };
  run(1.0, map.front().source - a, false);
  for (size_t i = 0; i + 1 < map.size(); ++i) {
    const auto dt = map[i + 1].timeline - map[i].timeline;
    const auto ds = map[i + 1].source - map[i].source;
    run(static_cast<double>(dt) / static_cast<double>(ds), dt, true);
  }
  return out;
}

} // namespace

const char* to_string(warp_mode m) noexcept {
  return m == warp_mode::varispeed ? "varispeed" : "stretch";
}

std::string check_warp_map(const std::vector<warp_point>& map, int64_t source_frames) {
  if (map.size() < 2)
    return "a warp map needs two points or more";
  if (map.front().timeline != 0)
    return "a warp map starts at the clip's start";
  for (size_t i = 0; i < map.size(); ++i) {
    if (map[i].source < 0 || map[i].source > source_frames)
      return "point " + std::to_string(i) + " is at source frame " +
             std::to_string(map[i].source) + ", outside the media (" +
             std::to_string(source_frames) + " frames)";
    if (i == 0)
      continue;
    const auto ds = map[i].source - map[i - 1].source;
    const auto dt = map[i].timeline - map[i - 1].timeline;
    if (ds <= 0 || dt <= 0)
      return "point " + std::to_string(i) + " is not after the point before it in both " +
             "source and timeline";
    const double speed = static_cast<double>(ds) / static_cast<double>(dt);
    if (speed > max_warp_speed || speed < 1.0 / max_warp_speed)
      return "point " + std::to_string(i) + " makes a speed of " + std::to_string(speed) +
             ", outside [1/16, 16]";
  }
  return {};
}

std::string warp_media_id(const std::string& parent_id, warp_mode mode,
                          const std::vector<warp_point>& map, uint32_t rate) {
  std::string text = "warp v" + std::to_string(warp_algorithm_version);
  text.append(" ").append(parent_id).append(" ").append(to_string(mode));
  text.append(" ").append(std::to_string(rate));
  for (const auto& p : map)
    text.append(" ").append(std::to_string(p.source)).append(":").append(
      std::to_string(p.timeline));
  return render_identity(text);
}

decoded_media render_warp(const decoded_media& source, warp_mode mode,
                          const std::vector<warp_point>& map, uint32_t rate) {
  if (auto why = check_warp_map(map, source.frames); !why.empty())
    throw media_error(failure::unsupported, "warp: " + why);
  return mode == warp_mode::varispeed ? varispeed(source, map) : stretch(source, map, rate);
}

} // namespace loophole::media
