// loophole-signal: a stateless DSP worker. Pulse starts it, hands it render
// graphs and tasks over ZeroMQ, and the audio through shared memory; it never
// opens a media file. It sends a heartbeat from its own loop, so a loop stuck
// inside a node is seen by its supervisor as silence.

#include <sys/resource.h>
#include <sysexits.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include <CLI/CLI.hpp>

#include "media/media_error.hpp"
#include "media/shared_memory.hpp"
#include "messages/wire/signal_protocol.hpp"
#include "signal/bus_layout.hpp"
#include "signal/flight_recorder.hpp"
#include "signal/partition_executor.hpp"

namespace {

using namespace loophole;
using clock_type = std::chrono::steady_clock;

struct loaded_job {
  signal::render_graph graph;
  signal::bus_layout layout;
  media::shared_memory bus;
  uint32_t slots = 0;
  std::map<uint32_t, signal::partition_executor> executors;
  signal::flight_record* recorder = nullptr;
  /// By the partitions of a task: those run side by side (empty when one of
  /// them reads another, which then run one after the other). Made on first
  /// use; the executors they point to live as long as the job.
  std::map<std::vector<uint32_t>, std::optional<signal::partition_cohort>> cohorts = {};
};

/// The cohort running `partitions` of `job` side by side, or null when they
/// must run in order (a single partition, or one reading another's output).
signal::partition_cohort* cohort_of(loaded_job& job, const std::vector<uint32_t>& partitions) {
  if (partitions.size() < 2)
    return nullptr;
  auto it = job.cohorts.find(partitions);
  if (it == job.cohorts.end()) {
    bool independent = true;
    for (const auto& node : job.graph.nodes)
      for (auto in : node.inputs) {
        const auto from = job.graph.nodes[in].partition;
        if (from != node.partition &&
            std::find(partitions.begin(), partitions.end(), from) != partitions.end() &&
            std::find(partitions.begin(), partitions.end(), node.partition) != partitions.end())
          independent = false;
      }
    std::optional<signal::partition_cohort> cohort;
    if (independent) {
      std::vector<signal::partition_executor*> members;
      for (auto p : partitions)
        members.push_back(&job.executors.at(p));
      cohort.emplace(std::move(members));
    }
    it = job.cohorts.emplace(partitions, std::move(cohort)).first;
  }
  return it->second ? &*it->second : nullptr;
}

class worker {
public:
  worker(std::string endpoint, std::string instance, std::chrono::milliseconds heartbeat)
    : instance_(std::move(instance)), heartbeat_(heartbeat) {
    socket_.set(zmq::sockopt::routing_id, instance_);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::max_frame_bytes));
    socket_.set(zmq::sockopt::sndhwm, 0);
    socket_.set(zmq::sockopt::rcvhwm, 0);
    socket_.connect(endpoint);
  }

  int run() {
    send(wire::hello{wire::protocol_version, static_cast<int64_t>(getpid()), instance_,
                     "loophole-signal " LOOPHOLE_VERSION});
    last_heartbeat_ = clock_type::now();
    for (;;) {
      zmq::pollitem_t item{static_cast<void*>(socket_), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, heartbeat_);
      beat_if_due();
      while (true) {
        zmq::message_t msg;
        if (!socket_.recv(msg, zmq::recv_flags::dontwait))
          break;
        if (!handle(msg.to_string_view()))
          return EX_OK;
        beat_if_due();
      }
    }
  }

private:
  void send(const wire::message& m) {
    auto frame = wire::encode(m);
    socket_.send(zmq::buffer(frame), zmq::send_flags::none);
  }

  void beat_if_due_noexcept() noexcept {
    try {
      beat_if_due();
    } catch (...) {
      // A heartbeat that cannot be sent is a silence the supervisor will see.
    }
  }

  void beat_if_due() {
    const auto now = clock_type::now();
    if (now - last_heartbeat_ < heartbeat_)
      return;
    last_heartbeat_ = now;
    send(wire::heartbeat{++beats_, tasks_done_});
  }

  void fail(uint64_t job, uint64_t task, uint32_t code, std::string message) {
    send(wire::failure{job, task, code, std::move(message)});
  }

  // Returns false when told to shut down.
  bool handle(std::string_view frame) {
    auto decoded = wire::decode(frame);
    if (!decoded.value) {
      fail(0, 0, wire::failure_code::protocol, instance_ + ": " + decoded.error);
      return true;
    }
    auto& msg = *decoded.value;
    if (auto* load = std::get_if<wire::load_job>(&msg))
      on_load(*load);
    else if (auto* task = std::get_if<wire::render_task>(&msg))
      on_task(*task);
    else if (auto* unload = std::get_if<wire::unload_job>(&msg))
      jobs_.erase(unload->job);
    else if (std::holds_alternative<wire::shutdown>(msg))
      return false;
    else
      fail(0, 0, wire::failure_code::protocol,
           instance_ + ": unexpected message from Pulse");
    return true;
  }

  void on_load(wire::load_job& m) {
    if (auto err = signal::validate(m.graph))
      return fail(m.job, 0, wire::failure_code::bad_graph, err->to_string(m.graph));
    // Bounds first: with them, no size below can overflow (nodes <= 2^20
    // by the unpacker's limits, channels <= 32).
    if (m.segment_frames == 0 || m.segment_frames > (1u << 22) || m.slots == 0 ||
        m.slots > 1024 || m.block_frames == 0 || m.block_frames > (1u << 16))
      return fail(m.job, 0, wire::failure_code::protocol,
                  "load_job: segment_frames, slots or block_frames out of range");
    auto layout = signal::bus_layout::make(m.graph, m.segment_frames);
    if (layout.slot_bytes == 0 || m.bus_bytes / layout.slot_bytes < m.slots)
      return fail(m.job, 0, wire::failure_code::protocol,
                  "load_job: the bus is smaller than its slots");
    if (m.recorder_offset != wire::no_recorder &&
        (m.recorder_offset % alignof(signal::flight_record) != 0 ||
         m.recorder_offset < uint64_t{m.slots} * layout.slot_bytes ||
         m.recorder_offset > m.bus_bytes - sizeof(signal::flight_record)))
      return fail(m.job, 0, wire::failure_code::protocol,
                  "load_job: the flight recorder lies outside the bus or inside its slots");
    try {
      loaded_job job{std::move(m.graph), layout, media::shared_memory::open(m.bus_shm, m.bus_bytes),
                     m.slots, {}, nullptr};
      if (m.recorder_offset != wire::no_recorder) {
        job.recorder = reinterpret_cast<signal::flight_record*>(job.bus.data() + m.recorder_offset);
        *job.recorder = signal::flight_record{};
        job.recorder->magic = signal::recorder_magic;
        job.recorder->job = m.job;
      }
      for (auto p : m.partitions) {
        if (p >= job.graph.partitions.size())
          return fail(m.job, 0, wire::failure_code::protocol,
                      "load_job: partition " + std::to_string(p) + " does not exist");
        auto& ex = job.executors
                     .emplace(p, signal::partition_executor(job.graph, p, layout, m.block_frames))
                     .first->second;
        ex.set_recorder(job.recorder);
      }
      // Resuming from a checkpoint: every state goes to the executor of its
      // node's partition, and must fit.
      for (const auto& st : m.restore) {
        if (st.node >= job.graph.nodes.size())
          return fail(m.job, 0, wire::failure_code::protocol,
                      "load_job: a state for node " + std::to_string(st.node) +
                        ", which does not exist");
        auto ex = job.executors.find(job.graph.nodes[st.node].partition);
        if (ex == job.executors.end())
          return fail(m.job, 0, wire::failure_code::protocol,
                      "load_job: a state for node " + std::to_string(st.node) +
                        ", whose partition is not loaded here");
        auto why = ex->second.restore(
          st.node, {reinterpret_cast<const std::byte*>(st.bytes.data()), st.bytes.size()});
        if (!why.empty())
          return fail(m.job, 0, wire::failure_code::protocol, "load_job: " + why);
      }
      jobs_.erase(m.job);
      jobs_.emplace(m.job, std::move(job));
    } catch (const std::exception& e) {
      return fail(m.job, 0, wire::failure_code::worker_failed, instance_ + ": " + e.what());
    }
    send(wire::job_ready{m.job});
  }

  void on_task(const wire::render_task& t) {
    auto it = jobs_.find(t.job);
    if (it == jobs_.end())
      return fail(t.job, t.task, wire::failure_code::protocol, "task for an unknown job");
    auto& job = it->second;
    if (t.partitions.empty() || t.slot >= job.slots || t.frames == 0 ||
        t.frames > job.layout.segment_frames)
      return fail(t.job, t.task, wire::failure_code::protocol, "task outside the loaded job");
    for (auto p : t.partitions)
      if (!job.executors.count(p))
        return fail(t.job, t.task, wire::failure_code::protocol,
                    "partition " + std::to_string(p) + " is not loaded here");
    const auto start = clock_type::now();
    std::byte* slot = job.bus.data() + t.slot * job.layout.slot_bytes;
    if (job.recorder)
      std::atomic_ref<uint64_t>(job.recorder->task).store(t.task, std::memory_order_relaxed);
    double peak = 0;
    // Heartbeats from inside the DSP loop: a partition that takes long is
    // still heard from, and one that hangs falls silent.
    const signal::block_hook hook{
      [](void* self) noexcept { static_cast<worker*>(self)->beat_if_due_noexcept(); }, this};
    auto* cohort = cohort_of(job, t.partitions);
    if (cohort)
      cohort->run_rt(t.first_frame, t.frames, slot, hook);
    for (auto p : t.partitions) {
      auto& ex = job.executors.at(p);
      if (!cohort)
        ex.run_rt(t.first_frame, t.frames, slot, hook);
      if (auto bad = ex.non_finite_node())
        return fail(t.job, t.task, wire::failure_code::non_finite,
                    "node " + std::to_string(*bad) + " ('" + job.graph.nodes[*bad].label +
                      "') produced NaN or infinity in the block at frame " +
                      std::to_string(ex.non_finite_frame()));
      if (job.graph.nodes[job.graph.output_node].partition == p)
        peak = sink_peak(job, slot, t.frames);
      beat_if_due(); // from the DSP loop itself, between partitions
    }
    tasks_done_ += t.partitions.size();
    std::vector<wire::node_state> states;
    if (t.checkpoint)
      for (auto p : t.partitions)
        for (auto& s : job.executors.at(p).snapshot())
          states.push_back(
            {s.node, std::string(reinterpret_cast<const char*>(s.bytes.data()), s.bytes.size())});
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(clock_type::now() - start);
    auto frame = wire::encode(wire::task_done{t.job, t.task, t.partitions, peak,
                                              static_cast<uint64_t>(ns.count()), std::move(states)});
    // Pulse refuses graphs whose states cannot fit; this is the last guard,
    // since an oversized frame would be dropped without a word.
    if (frame.size() > wire::max_frame_bytes)
      return fail(t.job, t.task, wire::failure_code::bad_graph,
                  instance_ + ": the checkpoint states take " + std::to_string(frame.size() >> 20) +
                    " MiB, more than a message may carry");
    socket_.send(zmq::buffer(frame), zmq::send_flags::none);
  }

  static double sink_peak(const loaded_job& job, const std::byte* slot, uint32_t frames) {
    const auto n = size_t{frames} * job.layout.sink_channels;
    const auto* sink = slot + job.layout.sink_offset;
    const bool is_float = signal::param_or(job.graph.nodes[job.graph.output_node], "bits", 0) == 0;
    if (is_float) {
      const auto* x = reinterpret_cast<const float*>(sink);
      float m = 0;
      for (size_t i = 0; i < n; ++i)
        m = std::max(m, std::fabs(x[i]));
      return static_cast<double>(m);
    }
    const auto* x = reinterpret_cast<const int32_t*>(sink);
    int64_t m = 0;
    for (size_t i = 0; i < n; ++i)
      m = std::max(m, std::abs(int64_t{x[i]}));
    return static_cast<double>(m) / 2147483648.0;
  }

  std::string instance_;
  std::chrono::milliseconds heartbeat_;
  zmq::context_t ctx_{1};
  zmq::socket_t socket_{ctx_, zmq::socket_type::dealer};
  clock_type::time_point last_heartbeat_;
  uint64_t beats_ = 0;
  uint64_t tasks_done_ = 0;
  std::map<uint64_t, loaded_job> jobs_;
};

} // namespace

int main(int argc, char** argv) {
  CLI::App app{"loophole-signal: the DSP worker of the Loophole render engine.\n"
               "Started and supervised by `loophole`; not meant to be run by hand."};
  std::string endpoint, instance;
  unsigned heartbeat_ms = 200;
  app.add_option("--endpoint", endpoint, "Pulse's ZeroMQ endpoint")->required();
  app.add_option("--instance", instance, "routing id Pulse gave this instance")->required();
  app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat interval")
    ->check(CLI::Range(10u, 60000u));
  unsigned memory_limit_mb = 0;
  app.add_option("--memory-limit-mb", memory_limit_mb,
                 "address-space limit in MiB (0: none); a node that leaks past it fails alone")
    ->check(CLI::Range(0u, 1u << 24));
  app.set_version_flag("--version", "loophole-signal " LOOPHOLE_VERSION);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? EX_OK : EX_USAGE;
  }
  if (memory_limit_mb != 0) {
    const rlimit limit{rlim_t{memory_limit_mb} << 20, rlim_t{memory_limit_mb} << 20};
    if (setrlimit(RLIMIT_AS, &limit) != 0) {
      std::perror("loophole-signal: setrlimit");
      return EX_OSERR;
    }
  }
  try {
    worker w{endpoint, instance, std::chrono::milliseconds{heartbeat_ms}};
    return w.run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "loophole-signal %s: %s\n", instance.c_str(), e.what());
    return EX_SOFTWARE;
  }
}
