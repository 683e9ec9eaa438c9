#include "media/segment_feeder.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstring>
#include <exception>
#include <mutex>
#include <optional>
#include <thread>

namespace loophole::media {

struct segment_feeder::impl {
  struct clip_window {
    signal::bus_region window;
    signal::media_region region;
    const media_source* source = nullptr;
    std::unique_ptr<media_stream> stream; // opened on first use, closed after the region
  };

  std::vector<media_source> media;
  signal::bus_layout layout;
  std::vector<clip_window> clips;

  // One fill at a time: the caller publishes a generation, the threads each
  // take clips by an atomic index, the last one to finish wakes the caller.
  std::mutex mtx;
  std::condition_variable cv_work, cv_done;
  uint64_t generation = 0;
  size_t busy = 0;
  bool stopping = false;
  std::byte* slot = nullptr;
  int64_t first = 0;
  uint32_t count = 0;
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::vector<std::thread> threads;

  void fill_clip(clip_window& c) {
    const int64_t s = std::max(first, c.region.timeline_start);
    const int64_t e = std::min(first + count, c.region.timeline_start + c.region.length);
    if (s >= e) {
      if (first >= c.region.timeline_start + c.region.length)
        c.stream.reset(); // past its end: free the file handle
      return;
    }
    const int64_t stride = layout.segment_frames;
    // In runs that are contiguous in the media: a loop wraps between runs.
    for (int64_t at = s; at < e;) {
      const int64_t k = at - c.region.timeline_start;
      const int64_t src = c.region.source_frame(k);
      const int64_t n = std::min(e - at, c.region.contiguous_from(k));
      auto* dest = reinterpret_cast<float*>(slot + c.window.offset) + (at - first);
      if (const auto* m = c.source; m->samples) {
        for (uint16_t ch = 0; ch < m->channels; ++ch)
          std::memcpy(dest + ch * stride, m->samples + (ch * m->frames + src),
                      static_cast<size_t>(n) * sizeof(float));
      } else {
        if (!c.stream)
          c.stream = std::make_unique<media_stream>(c.source->path);
        c.stream->read(src, n, dest, stride);
      }
      at += n;
    }
  }

  void run(uint64_t seen) {
    for (;;) {
      {
        std::unique_lock lock{mtx};
        cv_work.wait(lock, [&] { return stopping || generation != seen; });
        if (stopping)
          return;
        seen = generation;
      }
      for (size_t i; (i = next.fetch_add(1)) < clips.size();) {
        try {
          fill_clip(clips[i]);
        } catch (...) {
          std::lock_guard lock{mtx};
          if (!error)
            error = std::current_exception();
        }
      }
      std::lock_guard lock{mtx};
      if (--busy == 0)
        cv_done.notify_one();
    }
  }
};

std::vector<float> read_region(const media_source& source, uint16_t channels,
                               const signal::media_region& region) {
  const auto length = static_cast<size_t>(std::max<int64_t>(region.length, 0));
  std::vector<float> out(size_t{channels} * length);
  std::unique_ptr<media_stream> stream;
  for (int64_t k = 0; k < region.length;) {
    const int64_t src = region.source_frame(k);
    const int64_t n = region.contiguous_from(k);
    float* dest = out.data() + k;
    if (source.samples) {
      for (uint16_t ch = 0; ch < channels && ch < source.channels; ++ch)
        std::memcpy(dest + ch * length, source.samples + (ch * source.frames + src),
                    static_cast<size_t>(n) * sizeof(float));
    } else {
      if (!stream)
        stream = std::make_unique<media_stream>(source.path);
      stream->read(src, n, dest, static_cast<int64_t>(length));
    }
    k += n;
  }
  return out;
}

segment_feeder::segment_feeder(const signal::render_graph& graph, signal::bus_layout layout,
                               std::vector<media_source> media, unsigned threads)
  : impl_(std::make_unique<impl>()) {
  impl_->media = std::move(media);
  impl_->layout = std::move(layout);
  for (const auto& w : impl_->layout.windows) {
    const auto& node = graph.nodes[w.node];
    impl::clip_window c;
    c.window = w;
    c.region = *node.media;
    c.source = &impl_->media[node.media->media_index];
    impl_->clips.push_back(std::move(c));
  }
  threads = std::clamp(threads, 1u, 16u);
  for (unsigned i = 0; i < threads; ++i)
    impl_->threads.emplace_back([this] { impl_->run(0); });
}

segment_feeder::~segment_feeder() {
  {
    std::lock_guard lock{impl_->mtx};
    impl_->stopping = true;
  }
  impl_->cv_work.notify_all();
  for (auto& t : impl_->threads)
    t.join();
}

void segment_feeder::fill(std::byte* slot, int64_t first, uint32_t count) {
  auto& s = *impl_;
  std::unique_lock lock{s.mtx};
  s.slot = slot;
  s.first = first;
  s.count = count;
  s.next = 0;
  s.error = nullptr;
  s.busy = s.threads.size();
  ++s.generation;
  s.cv_work.notify_all();
  s.cv_done.wait(lock, [&] { return s.busy == 0; });
  if (s.error)
    std::rethrow_exception(s.error);
}

} // namespace loophole::media
