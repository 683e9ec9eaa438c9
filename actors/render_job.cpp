// One render job. It opens the output, leases media and Signal instances,
// partitions the graph over them, and streams the render through a ring of
// segment slots in shared memory:
//
//   feeder fills slot (media windows)  ->  Signal renders the partitions of
//   the segment, each once its inputs are done  ->  writer appends the sink
//   to the output  ->  the slot is filled with the next segment.
//
// Which instance renders which partition, and when, never changes a bit of
// the result: partitions are pure functions of their inputs and node states,
// and every sum is in graph order.
//
// Crash safety. Every `checkpoint_ms` of render time a segment is marked as
// a checkpoint: its tasks ask Signal for the node states after it, and once
// it is written the job keeps (segment, states) in memory and on disk beside
// the output (media::render_state). When an instance dies:
//
//   1. the job reads the instance's flight recorder (which node, which
//      block) and, if the death was the process's own doing, blames that
//      node; a node blamed twice is quarantined: its partition moves to a
//      Signal instance of its own, in safe mode (small blocks);
//   2. a new epoch starts: every instance gets the job again (the dead one
//      once its supervisor has restarted it) with the checkpoint's states,
//      and messages of the old epoch are ignored;
//   3. once every instance is ready and no fill or write of the old epoch
//      is still touching the slots, the pipeline restarts at the segment
//      after the checkpoint. Segments already written are rendered again
//      (the states must advance) but not written twice.
//
// So at most one checkpoint interval (plus the segments in flight) is done
// again, and the output is the same bytes as an undisturbed render's.

#include "actors/render_job.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <numeric>
#include <optional>
#include <set>
#include <thread>

#include "caf/event_based_actor.hpp"
#include "caf/response_promise.hpp"
#include "caf/stateful_actor.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/error.hpp"
#include "actors/loudness_normalization.hpp"
#include "media/loudness_meter.hpp"
#include "media/media_error.hpp"
#include "media/output_file.hpp"
#include "media/render_state.hpp"
#include "media/segment_feeder.hpp"
#include "media/shared_memory.hpp"
#include "messages/wire/signal_protocol.hpp"
#include "signal/bus_layout.hpp"
#include "signal/flight_recorder.hpp"
#include "signal/node_processor.hpp"

namespace loophole::actors {

using clock = std::chrono::steady_clock;

std::vector<uint32_t> assign_partitions(const signal::render_graph& graph, uint32_t workers) {
  const auto np = graph.partitions.size();
  std::vector<size_t> weight(np, 0);
  for (const auto& n : graph.nodes)
    ++weight[n.partition];
  std::vector<uint32_t> order(np);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](uint32_t a, uint32_t b) { return weight[a] > weight[b]; });
  std::vector<size_t> load(workers, 0);
  std::vector<uint32_t> owner(np, 0);
  for (auto p : order) {
    auto w = static_cast<uint32_t>(std::min_element(load.begin(), load.end()) - load.begin());
    owner[p] = w;
    load[w] += weight[p];
  }
  return owner;
}

namespace {

/// Quarantined partitions get an instance each; beyond this the job fails.
constexpr uint32_t max_safe_instances = 4;
/// A node blamed for this many deaths is quarantined.
constexpr uint32_t quarantine_after = 2;
/// Blocks of an instance in safe mode: finer heartbeats and recorder entries.
constexpr uint32_t safe_block_frames = 64;

caf::error media_failure(const media::media_error& e) {
  using media::failure;
  switch (e.kind()) {
    case failure::exists:
      return kernel::make_error(kernel::errc::output_exists, e.what());
    case failure::unwritable:
    case failure::unsupported:
      return kernel::make_error(kernel::errc::output_unwritable, e.what());
    case failure::not_found:
      return kernel::make_error(kernel::errc::media_not_found, e.what());
    case failure::unreadable:
      return kernel::make_error(kernel::errc::bad_media, e.what());
    case failure::io:
      return kernel::make_error(kernel::errc::output_failed, e.what());
    case failure::resources:
      return kernel::make_error(kernel::errc::internal, e.what());
  }
  return kernel::make_error(kernel::errc::internal, e.what());
}

// -- the feeder and the writer: detached, because they block on disk ---------

struct job_memory {
  std::shared_ptr<media::shared_memory> bus;
  signal::bus_layout layout;
};

caf::behavior feeder_actor(caf::event_based_actor*, std::shared_ptr<media::segment_feeder> feeder,
                           job_memory mem) {
  return {
    [feeder, mem](atoms::fill_atom, uint32_t slot, int64_t first,
                  uint32_t count) -> caf::result<bool> {
      try {
        feeder->fill(mem.bus->data() + slot * mem.layout.slot_bytes, first, count);
        return true;
      } catch (const media::media_error& e) {
        return media_failure(e);
      } catch (const std::exception& e) {
        return kernel::make_error(kernel::errc::internal,
                                  std::string{"streaming media failed: "} + e.what());
      }
    },
  };
}

template <class F>
caf::result<bool> guarded(F&& f, const char* what) {
  try {
    f();
    return true;
  } catch (const media::media_error& e) {
    return media_failure(e);
  } catch (const std::exception& e) {
    return kernel::make_error(kernel::errc::output_failed, std::string{what} + e.what());
  }
}

/// The meter nodes' taps, measured by the writer as it writes each segment:
/// exactly once per frame, in order. The job reads them after the commit.
struct meter_tap {
  std::string label;
  uint64_t bus_offset = 0;
  media::loudness_meter meter;
};
using meter_taps = std::shared_ptr<std::vector<meter_tap>>;

caf::behavior writer_actor(caf::event_based_actor*, std::shared_ptr<media::output_file> out,
                           std::shared_ptr<media::render_state> disk, job_memory mem,
                           bool float_samples, meter_taps meters) {
  return {
    // Holds the state folder (and its lock) until the writer is done with
    // the files in it, whenever the job itself goes.
    [disk](atoms::status_atom) { return disk ? disk->folder() : std::string{}; },
    [out, mem, float_samples, meters](atoms::write_atom, uint32_t slot, uint32_t skip,
                                      uint32_t count) {
      return guarded(
        [&] {
          if (count == 0)
            return;
          const auto* slot_base = mem.bus->data() + slot * mem.layout.slot_bytes;
          // A meter measures the frames the file gets: the latency compensation's
          // leading frames are dropped from both.
          for (auto& tap : *meters) {
            const auto* samples = slot_base + tap.bus_offset;
            if (mem.layout.precision == signal::sample_precision::float64)
              tap.meter.add_planar(reinterpret_cast<const double*>(samples) + skip,
                                   mem.layout.segment_frames, count);
            else
              tap.meter.add_planar(reinterpret_cast<const float*>(samples) + skip,
                                   mem.layout.segment_frames, count);
          }
          if (!out)
            return; // a measuring pass: the meters are all it is for
          const auto* sink =
            slot_base + mem.layout.sink_offset + uint64_t{skip} * mem.layout.sink_channels * 4u;
          if (float_samples)
            out->write_float(reinterpret_cast<const float*>(sink), count);
          else
            out->write_int(reinterpret_cast<const int32_t*>(sink), count);
        },
        "writing failed: ");
    },
    [out](atoms::resume_atom, const std::string& partial, int64_t data_offset, int64_t frames,
          int64_t chunk_frames) {
      return guarded(
        [&] { out->write_earlier_frames(partial, data_offset, frames, chunk_frames); },
        "resuming failed: ");
    },
    [out](atoms::commit_atom) {
      return guarded([&] {
        if (out)
          out->commit();
      }, "finishing the file failed: ");
    },
  };
}

// -- the job ------------------------------------------------------------------

struct checkpoint {
  int64_t segment = -1; ///< -1: none yet (start from the beginning)
  std::vector<wire::node_state> states;
  double peak = 0; ///< of the output through `segment`
};

/// One entry of the diagnostics report.
struct event {
  double at = 0; ///< seconds since the job started
  double unix_time = 0; ///< wall clock, for tools that time things from outside
  std::string kind; ///< failure, restart, quarantine, resumed, checkpoint_resume, non_finite
  std::string instance;
  std::string detail;
  std::optional<uint32_t> node;
  int64_t frame = -1;
  int64_t segment = -1;
};

struct render_job_state {
  context_ptr ctx;
  uint64_t job = 0;
  messages::render_plan plan;
  messages::render_settings settings;
  meter_taps meters;
  caf::actor listener;
  caf::response_promise rp;
  bool finished = false;
  bool committing = false;
  clock::time_point started;
  clock::time_point streaming; // when the first segment was filled: progress speeds count from here
  clock::time_point last_progress;

  job_memory mem;
  uint32_t slots = 0;
  uint32_t segment_frames = 0;
  int64_t segments = 0;
  /// Frames rendered: the graph's span and its output latency, the first
  /// `latency` of which are dropped so the file lines up with the timeline.
  int64_t render_frames = 0;
  int64_t latency = 0;
  uint32_t partitions = 0;
  uint32_t sink_partition = 0;
  std::vector<std::vector<uint32_t>> inputs_of;    // partition -> partitions it reads
  std::vector<std::vector<uint32_t>> consumers_of; // partition -> partitions reading it

  std::vector<caf::actor> workers;
  std::vector<uint32_t> owner;      // partition -> worker index
  std::vector<bool> safe;           // worker index -> runs a quarantined partition
  std::vector<int64_t> loaded_wire; // worker index -> wire job id it holds (or -1)
  uint64_t recorder_base = 0;       // bus offset of the flight recorders
  uint32_t recorder_count = 0;
  size_t ready = 0;

  // Recovery
  uint32_t epoch = 0;
  bool recovering = false;
  clock::time_point failed_at;
  size_t fills_in_flight = 0;
  size_t writes_in_flight = 0;
  int64_t skip_writes_below = 0; // segments already in the output file
  std::map<uint32_t, uint32_t> blamed; // node -> deaths it caused
  std::set<uint32_t> quarantined;       // nodes
  uint32_t restarts = 0;
  std::vector<event> events;

  // Checkpoints
  checkpoint last_checkpoint;
  std::map<int64_t, checkpoint> pending_checkpoints; // segment -> states, peak so far
  clock::time_point last_checkpoint_mark;
  uint32_t checkpoints = 0;
  std::string identity;
  std::shared_ptr<media::render_state> disk;
  std::string partial_name;
  int64_t resumed_frames = 0;
  std::vector<std::string> notes;

  struct slot_state {
    int64_t segment = -1;
    bool checkpoint = false;
    std::vector<uint8_t> done; // per partition
    std::vector<wire::node_state> states;
    double peak = 0;
  };
  std::vector<slot_state> slot_states;
  int64_t next_fill = 0;
  int64_t next_write = 0;
  std::set<int64_t> writable; // segments wholly rendered, not yet sent to the writer
  std::map<int64_t, double> segment_peaks; // of those
  int64_t written_through = 0; // segments [0, this) are in the output file
  int64_t frames_written = 0;
  double peak = 0;

  std::shared_ptr<media::output_file> out;
  caf::actor feeder;
  caf::actor writer;
  std::vector<std::string> leases;
  static inline const char* name = "render_job";
};

using job_ptr = caf::stateful_actor<render_job_state>*;

uint64_t wire_job(job_ptr self) {
  return (self->state.job << 20) | self->state.epoch;
}

int64_t first_frame_of(job_ptr self, int64_t segment) {
  return self->state.plan.graph.first_frame + segment * self->state.segment_frames;
}

uint32_t frames_of(job_ptr self, int64_t segment) {
  const int64_t begin = segment * self->state.segment_frames;
  return static_cast<uint32_t>(
    std::min<int64_t>(self->state.segment_frames, self->state.render_frames - begin));
}

/// Of the frames `segment` renders, how many lead the file (the output
/// latency, dropped).
uint32_t dropped_in(job_ptr self, int64_t segment) {
  const int64_t begin = segment * self->state.segment_frames;
  return static_cast<uint32_t>(
    std::clamp<int64_t>(self->state.latency - begin, 0, frames_of(self, segment)));
}

int64_t frames_through(job_ptr self, int64_t segment) {
  return std::max<int64_t>(0, std::min<int64_t>(self->state.render_frames,
                                                (segment + 1) * self->state.segment_frames) -
                                 self->state.latency);
}

double seconds_since_start(job_ptr self) {
  return std::chrono::duration<double>(clock::now() - self->state.started).count();
}

std::string node_name(job_ptr self, uint32_t node) {
  const auto& g = self->state.plan.graph;
  if (node >= g.nodes.size())
    return "node " + std::to_string(node);
  return "node " + std::to_string(node) + " ('" + g.nodes[node].label + "')";
}

void note_event(job_ptr self, event e) {
  e.at = seconds_since_start(self);
  e.unix_time =
    std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  self->state.events.push_back(std::move(e));
}

void write_diagnostics(job_ptr self, const caf::error& err) {
  auto& st = self->state;
  if (st.settings.diagnostics_path.empty())
    return;
  using json = nlohmann::json;
  json events = json::array();
  for (const auto& e : st.events) {
    json j{{"at_seconds", e.at}, {"unix_time", e.unix_time}, {"kind", e.kind},
           {"detail", e.detail}};
    if (!e.instance.empty())
      j["instance"] = e.instance;
    if (e.node) {
      j["node"] = *e.node;
      j["node_label"] = *e.node < st.plan.graph.nodes.size() ? st.plan.graph.nodes[*e.node].label
                                                             : "";
    }
    if (e.frame >= 0)
      j["frame"] = e.frame;
    if (e.segment >= 0)
      j["segment"] = e.segment;
    events.push_back(std::move(j));
  }
  json quarantined = json::array();
  for (auto n : st.quarantined)
    quarantined.push_back({{"node", n}, {"node_label", st.plan.graph.nodes[n].label}});
  json report{{"format", "loophole-diagnostics"},
              {"version", 1},
              {"output", st.settings.output_path},
              {"result", err ? "failed" : "ok"},
              {"error", err ? kernel::describe(err) : ""},
              {"frames_total", st.plan.graph.frame_count},
              {"frames_written", st.frames_written},
              {"resumed_frames", st.resumed_frames},
              {"checkpoints", st.checkpoints},
              {"restarts", st.restarts},
              {"quarantined", quarantined},
              {"events", events}};
  // Beside the render, never in its way: a report that cannot be written is
  // said on stderr, and the render's own result stands.
  const auto tmp = st.settings.diagnostics_path + ".tmp";
  std::ofstream f(tmp, std::ios::trunc);
  f << report.dump(2) << '\n';
  f.close();
  if (!f || std::rename(tmp.c_str(), st.settings.diagnostics_path.c_str()) != 0) {
    std::remove(tmp.c_str());
    std::fprintf(stderr, "loophole: warning: cannot write the diagnostics report %s\n",
                 st.settings.diagnostics_path.c_str());
  }
}

void finish(job_ptr self, caf::error err, messages::render_summary summary = {}) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.finished = true;
  for (size_t w = 0; w < st.workers.size(); ++w) {
    if (!st.workers[w])
      continue;
    if (st.loaded_wire[w] >= 0)
      self->send(st.workers[w], atoms::submit_atom::value,
                 wire::encode(wire::unload_job{static_cast<uint64_t>(st.loaded_wire[w])}));
    self->send(st.workers[w], atoms::detach_atom::value);
  }
  if (!st.leases.empty())
    if (auto pool = kernel::lookup(self->system(), names::media_pool))
      self->send(caf::actor_cast<caf::actor>(pool), atoms::release_atom::value, st.leases);
  if (st.feeder)
    self->send_exit(st.feeder, caf::exit_reason::user_shutdown);
  if (st.writer)
    self->send_exit(st.writer, caf::exit_reason::user_shutdown);
  write_diagnostics(self, err);
  if (err)
    st.rp.deliver(std::move(err));
  else
    st.rp.deliver(std::move(summary));
  self->quit();
}

void fill(job_ptr self, int64_t segment);
void recover(job_ptr self, std::vector<size_t> restarted);

/// Sends each instance one message with the partitions of `ready` it owns.
void dispatch(job_ptr self, int64_t segment, const std::vector<uint32_t>& ready) {
  auto& st = self->state;
  const auto& slot = st.slot_states[static_cast<size_t>(segment % st.slots)];
  for (size_t w = 0; w < st.workers.size(); ++w) {
    wire::render_task task{wire_job(self),
                           static_cast<uint64_t>(segment),
                           {},
                           static_cast<uint32_t>(segment % st.slots),
                           first_frame_of(self, segment),
                           frames_of(self, segment),
                           slot.checkpoint};
    for (auto p : ready)
      if (st.owner[p] == w)
        task.partitions.push_back(p);
    if (!task.partitions.empty())
      self->send(st.workers[w], atoms::submit_atom::value, wire::encode(task));
  }
}

void report_progress(job_ptr self, bool last) {
  auto& st = self->state;
  if (!st.listener)
    return;
  const auto now = clock::now();
  if (!last && now - st.last_progress < std::chrono::milliseconds{100})
    return;
  st.last_progress = now;
  self->send(st.listener, messages::render_progress{
                            st.job, st.frames_written, st.plan.graph.frame_count,
                            st.plan.graph.sample_rate,
                            std::chrono::duration<double>(now - st.streaming).count()});
}

void commit(job_ptr self) {
  auto& st = self->state;
  st.committing = true;
  self->request(st.writer, caf::infinite, atoms::commit_atom::value)
    .then(
      [self](bool) {
        auto& s = self->state;
        messages::render_summary sum;
        sum.job = s.job;
        sum.output_path = s.settings.output_path;
        sum.format = s.settings.format;
        sum.bits = s.settings.bits;
        sum.channels = s.mem.layout.sink_channels;
        sum.sample_rate = s.plan.graph.sample_rate;
        sum.frames = s.frames_written;
        sum.peak = s.peak;
        sum.elapsed_seconds = std::chrono::duration<double>(clock::now() - s.started).count();
        sum.workers = static_cast<uint32_t>(s.workers.size());
        sum.worker_restarts = s.restarts;
        sum.resumed_frames = s.resumed_frames;
        sum.checkpoints = s.checkpoints;
        for (auto n : s.quarantined)
          sum.quarantined.push_back(node_name(self, n));
        sum.notes = s.notes;
        for (const auto& tap : *s.meters) {
          const auto r = tap.meter.reading();
          sum.meters.push_back({tap.label, r.integrated_lufs, r.range_lu, r.sample_peak_dbfs,
                                r.true_peak_dbtp, r.rms_dbfs, r.frames});
        }
        const bool session_meters =
          std::any_of(s.meters->begin(), s.meters->end(),
                      [](const meter_tap& t) { return t.label != loudness_meter_label; });
        if (session_meters && s.resumed_frames > 0)
          sum.notes.push_back("the meters cover the frames rendered in this run, not the " +
                              std::to_string(s.resumed_frames) + " resumed from the earlier one");
        report_progress(self, true);
        finish(self, caf::error{}, sum);
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

/// A checkpoint segment is in the output: keep its states, in memory for
/// Signal failures and on disk for Pulse's.
void take_checkpoint(job_ptr self, int64_t segment) {
  auto& st = self->state;
  auto it = st.pending_checkpoints.find(segment);
  if (it == st.pending_checkpoints.end())
    return;
  st.last_checkpoint = std::move(it->second);
  st.pending_checkpoints.erase(st.pending_checkpoints.begin(), std::next(it));
  ++st.checkpoints;
  if (!st.disk)
    return;
  media::checkpoint_record rec;
  rec.identity = st.identity;
  rec.segment = segment;
  rec.frames = frames_through(self, segment);
  rec.partial = st.partial_name;
  rec.peak = st.last_checkpoint.peak;
  rec.data_offset = media::can_read_back(*media::parse_output_format(st.settings.format))
                      ? st.out->data_offset()
                      : -1;
  for (const auto& s : st.last_checkpoint.states)
    rec.states.emplace_back(s.node, s.bytes);
  try {
    st.disk->save_checkpoint(rec);
  } catch (const media::media_error& e) {
    finish(self, media_failure(e));
  }
}

void maybe_resume_pipeline(job_ptr self);

/// Hands a rendered segment on, in order: to the writer, or (segments the
/// output already holds, rendered again after a recovery) straight through.
void write_ready_segments(job_ptr self) {
  auto& st = self->state;
  while (!st.recovering && !st.finished && !st.writable.empty() &&
         *st.writable.begin() == st.next_write) {
    const int64_t segment = st.next_write++;
    st.writable.erase(st.writable.begin());
    // The peak through this segment, in output order (what a checkpoint keeps).
    st.peak = std::max(st.peak, st.segment_peaks[segment]);
    st.segment_peaks.erase(segment);
    if (auto cp = st.pending_checkpoints.find(segment); cp != st.pending_checkpoints.end())
      cp->second.peak = st.peak;
    const auto slot = static_cast<uint32_t>(segment % st.slots);
    const auto skip = dropped_in(self, segment);
    const auto count = frames_of(self, segment) - skip;
    if (segment < st.skip_writes_below) {
      take_checkpoint(self, segment);
      st.slot_states[slot].segment = -1;
      if (st.next_fill < st.segments)
        fill(self, st.next_fill++);
      continue;
    }
    ++st.writes_in_flight;
    const auto epoch = st.epoch;
    self->request(st.writer, caf::infinite, atoms::write_atom::value, slot, skip, count)
      .then(
        [self, segment, count, epoch, slot](bool) {
          auto& s = self->state;
          --s.writes_in_flight;
          s.frames_written += count;
          s.written_through = std::max(s.written_through, segment + 1);
          s.skip_writes_below = std::max(s.skip_writes_below, segment + 1);
          if (s.finished)
            return;
          take_checkpoint(self, segment);
          report_progress(self, false);
          if (s.written_through == s.segments && s.writes_in_flight == 0 && !s.committing)
            return commit(self);
          if (epoch != s.epoch || s.recovering)
            return maybe_resume_pipeline(self);
          s.slot_states[slot].segment = -1;
          if (s.next_fill < s.segments)
            fill(self, s.next_fill++);
        },
        [self](caf::error& err) { finish(self, std::move(err)); });
  }
}

void fill(job_ptr self, int64_t segment) {
  auto& st = self->state;
  auto& slot = st.slot_states[static_cast<size_t>(segment % st.slots)];
  slot.segment = segment;
  std::fill(slot.done.begin(), slot.done.end(), 0);
  slot.states.clear();
  slot.peak = 0;
  // Mark a checkpoint when the interval is up (never the last segment: the
  // file is committed right after it).
  const auto now = clock::now();
  slot.checkpoint =
    segment + 1 < st.segments &&
    now - st.last_checkpoint_mark >= std::chrono::milliseconds{st.ctx->config.checkpoint_ms};
  if (slot.checkpoint)
    st.last_checkpoint_mark = now;
  ++st.fills_in_flight;
  const auto epoch = st.epoch;
  self->request(st.feeder, caf::infinite, atoms::fill_atom::value,
                static_cast<uint32_t>(segment % st.slots), first_frame_of(self, segment),
                frames_of(self, segment))
    .then(
      [self, segment, epoch](bool) {
        auto& s = self->state;
        --s.fills_in_flight;
        if (s.finished)
          return;
        if (epoch != s.epoch)
          return maybe_resume_pipeline(self);
        std::vector<uint32_t> ready;
        for (uint32_t p = 0; p < s.partitions; ++p)
          if (s.inputs_of[p].empty())
            ready.push_back(p);
        dispatch(self, segment, ready);
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

void on_task_done(job_ptr self, wire::task_done& done) {
  auto& st = self->state;
  const auto segment = static_cast<int64_t>(done.task);
  auto& slot = st.slot_states[static_cast<size_t>(segment % st.slots)];
  if (slot.segment != segment)
    return; // stale
  std::vector<uint32_t> ready;
  for (auto partition : done.partitions) {
    if (partition >= st.partitions || slot.done[partition])
      continue; // duplicate
    slot.done[partition] = 1;
    if (partition == st.sink_partition)
      slot.peak = done.peak;
    for (auto q : st.consumers_of[partition]) {
      const auto& ins = st.inputs_of[q];
      if (std::all_of(ins.begin(), ins.end(), [&](uint32_t i) { return slot.done[i] != 0; }) &&
          std::find(ready.begin(), ready.end(), q) == ready.end())
        ready.push_back(q);
    }
  }
  if (slot.checkpoint)
    for (auto& s : done.states)
      slot.states.push_back(std::move(s));
  std::sort(ready.begin(), ready.end());
  if (!ready.empty())
    dispatch(self, segment, ready);
  // Written (and its slot reused) only once every partition is done with it.
  if (std::all_of(slot.done.begin(), slot.done.end(), [](uint8_t d) { return d != 0; })) {
    if (slot.checkpoint) {
      std::sort(slot.states.begin(), slot.states.end(),
                [](const auto& a, const auto& b) { return a.node < b.node; });
      // Segments complete in order of writing, not of rendering, so the peak
      // through this one is taken when it is written (take_checkpoint).
      st.pending_checkpoints[segment] = {segment, std::move(slot.states), 0.0};
      slot.states.clear();
    }
    st.writable.insert(segment);
    st.segment_peaks[segment] = slot.peak;
    write_ready_segments(self);
  }
}

void start_pipeline(job_ptr self) {
  auto& st = self->state;
  if (st.streaming == clock::time_point{})
    st.streaming = clock::now();
  st.last_checkpoint_mark = clock::now();
  for (uint32_t i = 0; i < st.slots && st.next_fill < st.segments; ++i)
    fill(self, st.next_fill++);
  // A render resumed after its last segment was written: only the commit is left.
  if (st.next_fill >= st.segments && st.written_through == st.segments && !st.committing &&
      st.writes_in_flight == 0)
    commit(self);
}

void maybe_resume_pipeline(job_ptr self) {
  auto& st = self->state;
  if (!st.recovering || st.finished || st.ready < st.workers.size() || st.fills_in_flight > 0 ||
      st.writes_in_flight > 0)
    return;
  st.recovering = false;
  if (st.committing)
    return; // every segment is in the file already: nothing to render again
  if (st.streaming == clock::time_point{})
    return start_pipeline(self); // the first start, not a recovery
  event e;
  e.kind = "resumed";
  e.segment = st.next_fill;
  e.frame = first_frame_of(self, st.next_fill);
  e.detail = (st.last_checkpoint.segment < 0
                ? std::string{"rendering again from the start (no checkpoint yet), "}
                : "rendering again from the checkpoint after segment " +
                    std::to_string(st.last_checkpoint.segment) + ", ") +
             std::to_string(std::chrono::duration<double>(clock::now() - st.failed_at).count()) +
             " s after the failure";
  note_event(self, std::move(e));
  start_pipeline(self);
}

void load_worker(job_ptr self, size_t w) {
  auto& st = self->state;
  wire::load_job msg;
  msg.job = wire_job(self);
  msg.graph = st.plan.graph;
  for (uint32_t p = 0; p < st.partitions; ++p)
    if (st.owner[p] == w)
      msg.partitions.push_back(p);
  msg.bus_shm = st.mem.bus->name();
  msg.bus_bytes = st.mem.bus->size();
  msg.slots = st.slots;
  msg.segment_frames = st.segment_frames;
  msg.block_frames = st.safe[w] ? std::min(st.settings.block_frames, safe_block_frames)
                                : st.settings.block_frames;
  msg.recorder_offset = st.recorder_base + w * signal::recorder_stride;
  for (const auto& s : st.last_checkpoint.states)
    if (s.node < st.plan.graph.nodes.size() &&
        st.owner[st.plan.graph.nodes[s.node].partition] == w)
      msg.restore.push_back(s);
  auto frame = wire::encode(msg);
  // An instance would drop a frame over the limit without a word: say so here.
  if (frame.size() > wire::max_frame_bytes)
    return finish(self, kernel::make_error(
                          kernel::errc::bad_graph,
                          "the render graph and its checkpoint states are too large to send to Signal (" +
                            std::to_string(frame.size() >> 20) + " MiB encoded, limit " +
                            std::to_string(wire::max_frame_bytes >> 20) + " MiB)"));
  st.loaded_wire[w] = static_cast<int64_t>(msg.job);
  self->send(st.workers[w], atoms::submit_atom::value, std::move(frame));
}

/// Attaches to instance `w` (waiting for its hello), then loads the job.
/// `restarted`: its process is a new one (the diagnostics say which).
void attach_and_load(job_ptr self, size_t w, bool restarted) {
  auto& st = self->state;
  const auto timeout = std::chrono::milliseconds{st.ctx->config.start_timeout_ms + 2000};
  const auto epoch = st.epoch;
  self->request(st.workers[w], timeout, atoms::attach_atom::value, caf::actor_cast<caf::actor>(self))
    .then(
      [self, w, epoch, restarted](bool) {
        if (self->state.finished || epoch != self->state.epoch)
          return;
        load_worker(self, w);
        if (!restarted)
          return;
        // A restarted (or new, safe-mode) instance: say which process it is now.
        self->request(self->state.workers[w], std::chrono::seconds{5}, atoms::status_atom::value)
          .then(
            [self, w](const messages::instance_status& status) {
              event e;
              e.kind = "restart";
              e.instance = status.instance;
              e.detail = status.instance + " (pid " + std::to_string(status.pid) + ") attached" +
                         (self->state.safe[w] ? ", in safe mode" : "") +
                         "; restarts of it so far: " + std::to_string(status.restarts);
              note_event(self, std::move(e));
            },
            [](caf::error&) {});
      },
      [self, epoch](caf::error& err) {
        if (self->state.finished || epoch != self->state.epoch)
          return;
        finish(self, kernel::make_error(kernel::errc::worker_failed,
                                        "no Signal instance to go on with: " +
                                          kernel::describe(err) + "; the output was not written"));
      });
}

/// What instance `w`'s flight recorder says it was doing, if it was in a node
/// of this job.
std::optional<signal::flight_record> read_recorder(job_ptr self, size_t w) {
  auto& st = self->state;
  if (w >= st.recorder_count)
    return std::nullopt;
  signal::flight_record rec;
  auto* where = st.mem.bus->data() + st.recorder_base + w * signal::recorder_stride;
  std::memcpy(&rec, where, sizeof rec);
  // Read once: a process that dies again before loading the job must not be
  // blamed on what its predecessor was doing.
  std::memset(where, 0, sizeof rec);
  if (rec.magic != signal::recorder_magic || st.loaded_wire[w] < 0 ||
      rec.job != static_cast<uint64_t>(st.loaded_wire[w]) ||
      rec.phase == static_cast<uint32_t>(signal::recorder_phase::idle) ||
      rec.node >= st.plan.graph.nodes.size())
    return std::nullopt;
  return rec;
}

/// Moves the partition of `node` to a new instance of its own, in safe mode.
/// Returns the new instance's index through the lease callback.
void quarantine(job_ptr self, uint32_t node, std::function<void(size_t)> then) {
  auto& st = self->state;
  const auto partition = st.plan.graph.nodes[node].partition;
  const auto safe_count = static_cast<uint32_t>(std::count(st.safe.begin(), st.safe.end(), true));
  if (safe_count >= max_safe_instances || st.workers.size() >= st.recorder_count)
    return finish(self, kernel::make_error(kernel::errc::node_failed,
                                           "too many nodes in quarantine (" +
                                             std::to_string(max_safe_instances) + "), the last " +
                                             node_name(self, node)));
  st.quarantined.insert(node);
  event e;
  e.kind = "quarantine";
  e.node = node;
  e.detail = node_name(self, node) + " took its Signal instance down " +
             std::to_string(st.blamed[node]) + " times: its partition '" +
             st.plan.graph.partitions[partition].label +
             "' goes to an instance of its own, in safe mode (blocks of " +
             std::to_string(std::min(st.settings.block_frames, safe_block_frames)) + " frames)";
  note_event(self, std::move(e));
  auto pool = kernel::lookup(self->system(), names::signal_pool);
  if (!pool)
    return finish(self, kernel::make_error(kernel::errc::internal, "the Signal pool is not running"));
  const auto index = st.workers.size();
  st.workers.emplace_back();
  st.safe.push_back(true);
  st.loaded_wire.push_back(-1);
  st.owner[partition] = static_cast<uint32_t>(index);
  self->request(pool, caf::infinite, atoms::lease_atom::value, static_cast<uint32_t>(index + 1))
    .then(
      [self, index, then](const std::vector<caf::actor>& sups) {
        if (self->state.finished)
          return;
        if (sups.size() <= index)
          return finish(self, kernel::make_error(kernel::errc::worker_unavailable,
                                                 "no Signal instance for safe mode"));
        self->state.workers[index] = sups[index];
        then(index);
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

/// Starts a new epoch from the last checkpoint. `fresh` instances (restarted
/// or new) are attached again; the others are told to drop the old epoch.
void recover(job_ptr self, std::vector<size_t> fresh) {
  auto& st = self->state;
  ++st.epoch;
  st.recovering = true;
  st.ready = 0;
  for (auto& slot : st.slot_states) {
    slot.segment = -1;
    slot.checkpoint = false;
    std::fill(slot.done.begin(), slot.done.end(), 0);
    slot.states.clear();
    slot.peak = 0;
  }
  st.writable.clear();
  st.segment_peaks.clear();
  st.pending_checkpoints.clear();
  st.skip_writes_below = std::max(st.skip_writes_below, st.next_write);
  st.next_fill = st.next_write = st.last_checkpoint.segment + 1;
  // Every instance is attached again, not only the `fresh` ones: one that
  // died in an earlier recovery may still be restarting, and a frame sent to
  // a process that is not connected yet is lost. For an instance that is up
  // and ours, attach answers at once.
  for (size_t w = 0; w < st.workers.size(); ++w) {
    const bool is_fresh = std::find(fresh.begin(), fresh.end(), w) != fresh.end();
    if (!is_fresh && st.workers[w] && st.loaded_wire[w] >= 0)
      self->send(st.workers[w], atoms::submit_atom::value,
                 wire::encode(wire::unload_job{static_cast<uint64_t>(st.loaded_wire[w])}));
    st.loaded_wire[w] = -1;
    if (st.workers[w])
      attach_and_load(self, w, is_fresh);
  }
}

void on_lost(job_ptr self, size_t w, const std::string& why, bool attributable) {
  auto& st = self->state;
  if (st.finished)
    return;
  st.failed_at = clock::now();
  auto rec = read_recorder(self, w);
  event e;
  e.kind = "failure";
  e.detail = why;
  e.segment = st.next_write;
  if (rec) {
    e.node = rec->node;
    e.frame = rec->frame;
  }
  note_event(self, e);
  st.loaded_wire[w] = -1;
  ++st.restarts;
  // Blame: only a death of the process's own doing, in a node of ours.
  if (attributable && rec) {
    const auto node = rec->node;
    const auto count = ++st.blamed[node];
    const auto where =
      rec->phase == static_cast<uint32_t>(signal::recorder_phase::process)
        ? "in the block at frame " + std::to_string(rec->frame)
        : std::string{rec->phase == static_cast<uint32_t>(signal::recorder_phase::snapshot)
                        ? "while its state was saved for a checkpoint"
                        : "while its state was restored from a checkpoint"};
    if (st.safe[w])
      return finish(self, kernel::make_error(
                            kernel::errc::node_failed,
                            node_name(self, node) + " took its Signal instance down " +
                              std::to_string(count) + " times, the last " + where +
                              " alone in safe mode (" + why + "); " + std::to_string(st.restarts) +
                              " restarts in all. The render was stopped; " +
                              st.settings.output_path + " was not written"));
    if (count >= quarantine_after && !st.quarantined.count(node)) {
      quarantine(self, node, [self, w](size_t safe_index) {
        recover(self, {w, safe_index});
      });
      return;
    }
  }
  recover(self, {w});
}

void lease_workers(job_ptr self) {
  auto& st = self->state;
  auto pool = kernel::lookup(self->system(), names::signal_pool);
  if (!pool)
    return finish(self, kernel::make_error(kernel::errc::internal, "the Signal pool is not running"));
  self->request(pool, caf::infinite, atoms::lease_atom::value, st.recorder_count - max_safe_instances)
    .then(
      [self](const std::vector<caf::actor>& sups) {
        auto& s = self->state;
        s.workers = sups;
        s.safe.assign(sups.size(), false);
        s.loaded_wire.assign(sups.size(), -1);
        s.owner = assign_partitions(s.plan.graph, static_cast<uint32_t>(sups.size()));
        s.recovering = true; // the first epoch starts like a recovery: when all are ready
        for (size_t w = 0; w < sups.size(); ++w)
          attach_and_load(self, w, false);
      },
      [self](caf::error& err) { finish(self, std::move(err)); });
}

/// What the render computes, for matching a checkpoint on disk to this render.
std::string identity_of(job_ptr self) {
  auto& st = self->state;
  wire::load_job d;
  d.graph = st.plan.graph;
  d.segment_frames = st.segment_frames;
  std::string text = wire::encode(d);
  text += "|" + st.settings.format + "|" + std::to_string(st.settings.bits) + "|" +
          std::to_string(st.settings.vbr_quality) + "|" + st.plan.metadata.title + "|" +
          st.plan.metadata.artist + "|" + st.plan.metadata.comment + "|" + st.plan.metadata.date;
  return media::render_identity(text);
}

/// Looks at what an interrupted render of this output left; returns the
/// checkpoint to resume from, if any and if it is this render's.
std::optional<media::checkpoint_record> look_for_resume(job_ptr self) {
  auto& st = self->state;
  if (!st.disk->leftover()) {
    if (st.settings.resume)
      st.notes.push_back("nothing to resume for " + st.settings.output_path +
                         ": rendered from the start");
    return std::nullopt;
  }
  auto cp = st.disk->load_checkpoint();
  std::string why;
  if (!cp)
    why = "it has no readable checkpoint";
  else if (cp->identity != st.identity)
    why = "it was a render of another session, range or format";
  else if (cp->segment >= st.segments || cp->frames != frames_through(self, cp->segment))
    why = "its checkpoint does not fit this render";
  else if (::access(st.disk->path_of(cp->partial).c_str(), R_OK) != 0)
    why = "its partial file is gone";
  else {
    // The frames the checkpoint counts must all be there.
    const bool pcm = cp->data_offset >= 0;
    const uint64_t sample_bytes =
      pcm ? (st.settings.bits == 0 ? 4u : std::max<uint64_t>(1, st.settings.bits / 8u)) : 4u;
    const auto needed = (pcm ? static_cast<uint64_t>(cp->data_offset) : 0u) +
                        static_cast<uint64_t>(cp->frames) * st.mem.layout.sink_channels *
                          sample_bytes;
    struct stat sb {};
    const auto source = pcm ? st.disk->path_of(cp->partial) : st.disk->path_of("spool");
    if (::stat(source.c_str(), &sb) != 0 || static_cast<uint64_t>(sb.st_size) < needed)
      why = "its samples end before its checkpoint";
  }
  if (st.settings.resume && why.empty())
    return cp;
  st.notes.push_back(st.settings.resume
                       ? "could not resume " + st.settings.output_path + " (" + why +
                           "): rendered from the start"
                       : "removed the state of an interrupted render of " +
                           st.settings.output_path +
                           (why.empty() ? " (--resume would have continued it)" : ""));
  return std::nullopt;
}

void start_job(job_ptr self) {
  auto& st = self->state;
  const auto& g = st.plan.graph;
  st.started = clock::now();
  st.partitions = static_cast<uint32_t>(g.partitions.size());
  st.sink_partition = g.nodes[g.output_node].partition;
  st.inputs_of.assign(st.partitions, {});
  st.consumers_of.assign(st.partitions, {});
  for (const auto& n : g.nodes)
    for (auto in : n.inputs) {
      const auto from = g.nodes[in].partition;
      auto& ins = st.inputs_of[n.partition];
      if (from != n.partition && std::find(ins.begin(), ins.end(), from) == ins.end()) {
        ins.push_back(from);
        st.consumers_of[from].push_back(n.partition);
      }
    }
  st.latency = g.output_latency;
  st.render_frames = g.frame_count + g.output_latency;
  st.segment_frames = static_cast<uint32_t>(
    std::min<int64_t>(st.settings.segment_frames, st.render_frames));
  st.segments = (st.render_frames + st.segment_frames - 1) / st.segment_frames;
  st.slots = static_cast<uint32_t>(std::min<int64_t>(st.settings.segments_in_flight, st.segments));
  st.slot_states.assign(st.slots, {-1, false, std::vector<uint8_t>(st.partitions, 0), {}, 0.0});
  st.mem.layout = signal::bus_layout::make(g, st.segment_frames);
  uint32_t n = st.settings.workers != 0 ? st.settings.workers
                                        : std::max(1u, std::thread::hardware_concurrency());
  n = std::min<uint32_t>(n, st.partitions);
  // Checkpoints carry every node's state in messages of at most
  // max_frame_bytes: refuse now, the same way whatever the worker count,
  // rather than fail mid-render.
  {
    uint64_t total = 0, largest = 0;
    uint32_t largest_node = 0;
    for (const auto& node : g.nodes) {
      const auto bytes = signal::state_bytes(g, node);
      total += bytes;
      if (bytes > largest) {
        largest = bytes;
        largest_node = node.id;
      }
    }
    const uint64_t room = wire::max_frame_bytes - (uint64_t{1} << 20);
    if (total > room)
      return finish(self, kernel::make_error(
                            kernel::errc::bad_graph,
                            "the nodes' states take " + std::to_string(total >> 20) +
                              " MiB, more than a checkpoint can carry (" +
                              std::to_string(room >> 20) + " MiB); the largest is " +
                              node_name(self, largest_node) + " (" +
                              std::to_string(largest >> 20) + " MiB): shorten the delays"));
  }
  st.recorder_count = n + max_safe_instances;
  st.recorder_base = st.mem.layout.slot_bytes * st.slots;
  st.identity = identity_of(self);

  const auto format = *media::parse_output_format(st.settings.format);
  const bool float_samples = st.settings.bits == 0;
  std::optional<media::checkpoint_record> resume;
  try {
    media::output_spec spec;
    spec.path = st.settings.output_path;
    spec.format = format;
    spec.bits = st.settings.bits;
    spec.channels = st.mem.layout.sink_channels;
    spec.sample_rate = g.sample_rate;
    spec.frames = g.frame_count;
    spec.force = st.settings.force;
    spec.vbr_quality = st.settings.vbr_quality;
    spec.title = st.plan.metadata.title;
    spec.artist = st.plan.metadata.artist;
    spec.comment = st.plan.metadata.comment;
    spec.date = st.plan.metadata.date;
    spec.time_reference = g.first_frame;
    // The session's markers inside the rendered span, from its first frame.
    for (const auto& m : st.plan.markers)
      if (m.frame >= g.first_frame && m.frame <= g.first_frame + g.frame_count)
        spec.markers.push_back({m.name, m.frame - g.first_frame});
    if (!spec.markers.empty() && !media::carries_markers(format) && !st.settings.measure_only)
      st.notes.push_back(std::to_string(spec.markers.size()) + " marker" +
                         (spec.markers.size() == 1 ? " is" : "s are") + " not in the " +
                         st.settings.format + " file: markers are written to WAV and AIFF");
    // The output file's own checks, before claiming a folder beside it (a
    // measuring pass checks too, so a bad target fails before the render).
    media::check_target(spec);
    if (!st.settings.measure_only) {
      st.disk = std::make_shared<media::render_state>(st.settings.output_path);
      resume = look_for_resume(self);
      if (!resume)
        st.disk->clear();
      st.partial_name = st.disk->fresh_partial_name();
      spec.temporary_path = st.disk->path_of(st.partial_name);
      if (!media::can_read_back(format))
        spec.spool_path = st.disk->path_of("spool");
      st.out = std::make_shared<media::output_file>(spec);
    }
    st.mem.bus = std::make_shared<media::shared_memory>(media::shared_memory::create(
      "bus" + std::to_string(st.job),
      st.recorder_base + uint64_t{st.recorder_count} * signal::recorder_stride));
  } catch (const media::media_error& e) {
    return finish(self, media_failure(e));
  }
  // The writer holds the output and the state folder: whatever ends the job,
  // they are removed when it stops (unless committed).
  st.meters = std::make_shared<std::vector<meter_tap>>();
  try {
    for (const auto& node : g.nodes)
      if (node.kind == signal::node_kind::meter)
        st.meters->push_back({node.label, st.mem.layout.find(node.id)->offset,
                              media::loudness_meter(node.channels, g.sample_rate)});
  } catch (const media::media_error& e) {
    return finish(self, media_failure(e));
  }
  st.writer = self->spawn<caf::detached + caf::linked>(writer_actor, st.out, st.disk, st.mem,
                                                       float_samples, st.meters);

  auto go_on = [self] {
    auto pool = kernel::lookup(self->system(), names::media_pool);
    if (!pool)
      return finish(self,
                    kernel::make_error(kernel::errc::internal, "the media pool is not running"));
    self->request(pool, caf::infinite, atoms::acquire_atom::value, self->state.plan.media)
      .then(
        [self](const std::vector<messages::media_lease>& leases) {
          auto& s = self->state;
          std::vector<media::media_source> sources;
          try {
            for (const auto& lease : leases) {
              media::media_source src;
              src.path = lease.info.path;
              if (!lease.shm_name.empty()) {
                s.leases.push_back(lease.shm_name);
                const auto needed = static_cast<uint64_t>(lease.info.frames) *
                                    lease.info.channels * sizeof(float);
                if (lease.bytes < needed)
                  return finish(self, kernel::make_error(kernel::errc::internal,
                                                         lease.shm_name +
                                                           " is smaller than its media"));
                auto mem = std::make_shared<media::shared_memory>(
                  media::shared_memory::open(lease.shm_name, lease.bytes));
                src.samples = reinterpret_cast<const float*>(mem->data());
                src.channels = lease.info.channels;
                src.frames = lease.info.frames;
                src.owner = std::move(mem);
              }
              sources.push_back(std::move(src));
            }
          } catch (const media::media_error& e) {
            return finish(self, media_failure(e));
          } catch (const std::exception& e) {
            return finish(self, kernel::make_error(kernel::errc::internal,
                                                   std::string{"media leases: "} + e.what()));
          }
          // Nodes that need their media whole (convolution, sampler) carry
          // it in the graph: read here, once, before the graph goes to the
          // workers (docs/node-graph.md, "Media a node needs whole").
          try {
            for (auto& node : s.plan.graph.nodes) {
              if (!signal::embeds_media(node.kind) || !node.media || !node.embedded_audio.empty())
                continue;
              const auto index = node.media->media_index;
              const auto channels = s.plan.graph.media[index].channels;
              const auto samples = uint64_t{channels} * static_cast<uint64_t>(node.media->length);
              if (samples > signal::max_embedded_samples)
                return finish(self, kernel::make_error(
                                      kernel::errc::bad_graph,
                                      node_name(self, node.id) + ": its media region holds " +
                                        std::to_string(samples) +
                                        " samples, more than a node may carry (2^24 = " +
                                        std::to_string(signal::max_embedded_samples) +
                                        "); shorten the impulse response or sample"));
              node.embedded_audio = media::read_region(sources[index], channels, *node.media);
            }
          } catch (const media::media_error& e) {
            return finish(self, media_failure(e));
          }
          const unsigned threads = s.ctx->config.decode_threads != 0
                                     ? s.ctx->config.decode_threads
                                     : std::max(1u, std::thread::hardware_concurrency());
          auto feeder = std::make_shared<media::segment_feeder>(s.plan.graph, s.mem.layout,
                                                                std::move(sources), threads);
          s.feeder = self->spawn<caf::detached + caf::linked>(feeder_actor, feeder, s.mem);
          lease_workers(self);
        },
        [self](caf::error& err) { finish(self, std::move(err)); });
  };

  if (!resume)
    return go_on();
  // Resuming: the output first gets the frames the interrupted render wrote.
  const auto partial = resume->data_offset >= 0 ? st.disk->path_of(resume->partial) : std::string{};
  self->request(st.writer, caf::infinite, atoms::resume_atom::value, partial, resume->data_offset,
                resume->frames, int64_t{st.segment_frames})
    .then(
      [self, resume, go_on](bool) {
        auto& s = self->state;
        // The new partial file holds the checkpoint's frames now: point the
        // checkpoint on disk at it before the old one goes, so a kill right
        // here still leaves something to resume.
        auto moved = *resume;
        moved.partial = s.partial_name;
        moved.data_offset = media::can_read_back(*media::parse_output_format(s.settings.format))
                              ? s.out->data_offset()
                              : -1;
        try {
          s.disk->save_checkpoint(moved);
        } catch (const media::media_error& e) {
          return finish(self, media_failure(e));
        }
        ::unlink(s.disk->path_of(resume->partial).c_str());
        s.last_checkpoint.segment = resume->segment;
        s.last_checkpoint.peak = resume->peak;
        s.peak = resume->peak;
        for (const auto& [node, bytes] : resume->states)
          s.last_checkpoint.states.push_back({node, bytes});
        s.next_fill = s.next_write = s.skip_writes_below = s.written_through = resume->segment + 1;
        s.frames_written = s.resumed_frames = resume->frames;
        event e;
        e.kind = "checkpoint_resume";
        e.segment = resume->segment;
        e.frame = resume->frames;
        e.detail = "resumed an interrupted render after " + std::to_string(resume->frames) +
                   " frames";
        note_event(self, std::move(e));
        go_on();
      },
      [self](caf::error& err) {
        // What the interrupted render left stays for another try.
        self->state.disk->keep_on_exit();
        finish(self, std::move(err));
      });
}

caf::behavior render_job(job_ptr self, context_ptr ctx, uint64_t job, messages::render_plan plan,
                         messages::render_settings settings, caf::actor listener) {
  auto& st = self->state;
  st.ctx = std::move(ctx);
  st.job = job;
  st.plan = std::move(plan);
  st.settings = std::move(settings);
  st.listener = std::move(listener);
  // An exit message (the orchestrator stopping, an interrupt) stops the job
  // cleanly: Signal instances unloaded, leases released, the temporary
  // output and the state folder removed.
  self->set_exit_handler([self](const caf::exit_msg& msg) {
    if (msg.reason == caf::exit_reason::normal && msg.source != self->state.writer &&
        msg.source != self->state.feeder)
      return;
    const bool helper = msg.source == self->state.writer || msg.source == self->state.feeder;
    finish(self, helper ? kernel::make_error(kernel::errc::internal,
                                             std::string{"the render's "} +
                                               (msg.source == self->state.writer ? "writer"
                                                                                 : "feeder") +
                                               " stopped: " + caf::to_string(msg.reason))
                        : kernel::make_error(kernel::errc::cancelled, "the render was stopped"));
    self->quit(msg.reason);
  });
  return {
    [self](atoms::render_atom) {
      self->state.rp = self->make_response_promise();
      start_job(self);
      return self->state.rp;
    },
    [self](atoms::frame_atom, const std::string& frame) {
      auto& s = self->state;
      if (s.finished)
        return;
      auto msg = wire::decode(frame);
      if (!msg.value)
        return finish(self, kernel::make_error(kernel::errc::protocol,
                                               "a Signal instance sent a malformed frame: " +
                                                 msg.error));
      const auto current = wire_job(self);
      if (auto* done = std::get_if<wire::task_done>(&*msg.value)) {
        if (done->job == current && !s.recovering)
          on_task_done(self, *done);
      } else if (auto* ready = std::get_if<wire::job_ready>(&*msg.value)) {
        if (ready->job == current && ++s.ready == s.workers.size())
          maybe_resume_pipeline(self);
      } else if (auto* f = std::get_if<wire::failure>(&*msg.value)) {
        // Job 0: the instance could not even read what we sent it.
        if (f->job != current && f->job != 0)
          return; // about an epoch given up
        const auto code = static_cast<kernel::errc>(f->code);
        if (code == kernel::errc::non_finite) {
          event e;
          e.kind = "non_finite";
          e.detail = f->message;
          e.segment = static_cast<int64_t>(f->task);
          note_event(self, std::move(e));
          return finish(self, kernel::make_error(code, "Signal: " + f->message +
                                                         "; the render was stopped, " +
                                                         s.settings.output_path +
                                                         " was not written"));
        }
        finish(self, kernel::make_error(code, "Signal: " + f->message));
      }
    },
    [self](atoms::lost_atom, const std::string& why, bool attributable) {
      auto& s = self->state;
      const auto sender = caf::actor_cast<caf::actor>(self->current_sender());
      const auto it = std::find(s.workers.begin(), s.workers.end(), sender);
      if (it == s.workers.end())
        return;
      on_lost(self, static_cast<size_t>(it - s.workers.begin()), why, attributable);
    },
  };
}

} // namespace

caf::actor spawn_render_job(caf::actor_system& sys, context_ptr ctx, uint64_t job,
                            messages::render_plan plan, messages::render_settings settings,
                            caf::actor listener) {
  return sys.spawn(render_job, std::move(ctx), job, std::move(plan), std::move(settings),
                   std::move(listener));
}

} // namespace loophole::actors
