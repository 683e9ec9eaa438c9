#define BOOST_TEST_MODULE apps_signal_worker
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <zmq.hpp>

#include "media/shared_memory.hpp"
#include "messages/wire/signal_protocol.hpp"
#include "signal/bus_layout.hpp"
#include "tests/support/temp_dir.hpp"

// The worker's side of the wire protocol, against a real loophole-signal
// process and a ROUTER socket of the test's own: whatever Pulse (or anyone
// on the socket) sends, the worker answers with a failure and stays up.

using namespace loophole;

namespace {

class worker_fixture {
public:
  worker_fixture() {
    router_.set(zmq::sockopt::router_mandatory, 1);
    router_.set(zmq::sockopt::linger, 0);
    endpoint_ = "ipc://" + dir_.file("signal");
    router_.bind(endpoint_);
    pid_ = fork();
    if (pid_ == 0) {
      execl(LOOPHOLE_BIN_DIR "/loophole-signal", "loophole-signal", "--endpoint",
            endpoint_.c_str(), "--instance", "w0.1", "--heartbeat-ms", "50", nullptr);
      _exit(127);
    }
    auto hello = receive();
    BOOST_TEST_REQUIRE(hello.has_value(), "no hello from the worker");
    BOOST_TEST_REQUIRE(std::holds_alternative<wire::hello>(*hello));
    BOOST_TEST(std::get<wire::hello>(*hello).instance == "w0.1");
  }

  ~worker_fixture() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      int st;
      waitpid(pid_, &st, 0);
    }
  }

  void send_raw(const std::string& frame) {
    router_.send(zmq::buffer(std::string{"w0.1"}), zmq::send_flags::sndmore);
    router_.send(zmq::buffer(frame), zmq::send_flags::none);
  }

  void send(const wire::message& m) { send_raw(wire::encode(m)); }

  /// The next message that is not a heartbeat, within 5 s.
  std::optional<wire::message> receive() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{static_cast<void*>(router_), 0, ZMQ_POLLIN, 0};
      zmq::poll(&item, 1, std::chrono::milliseconds{100});
      if (!(item.revents & ZMQ_POLLIN))
        continue;
      zmq::message_t id, payload;
      (void)router_.recv(id);
      (void)router_.recv(payload);
      auto d = wire::decode(payload.to_string_view());
      BOOST_TEST_REQUIRE(d.value.has_value(), "the worker sent an undecodable frame: " << d.error);
      if (!std::holds_alternative<wire::heartbeat>(*d.value))
        return d.value;
    }
    return std::nullopt;
  }

  /// True while the worker process runs.
  bool alive() const {
    int st;
    return waitpid(pid_, &st, WNOHANG) == 0;
  }

  /// A failure must come back, and the worker must still be there.
  void expect_failure(const std::string& words) {
    auto got = receive();
    BOOST_TEST_REQUIRE(got.has_value(), "no answer from the worker");
    BOOST_TEST_REQUIRE(std::holds_alternative<wire::failure>(*got));
    const auto& f = std::get<wire::failure>(*got);
    BOOST_TEST(f.message.find(words) != std::string::npos, f.message);
    BOOST_TEST(alive());
  }

  pid_t pid() const { return pid_; }

private:
  test::temp_dir dir_{"signal-worker-test"};
  zmq::context_t ctx_{1};
  zmq::socket_t router_{ctx_, zmq::socket_type::router};
  std::string endpoint_;
  pid_t pid_ = -1;
};

signal::render_graph one_clip_graph() {
  signal::render_graph g;
  g.sample_rate = 48000;
  g.frame_count = 48000;
  g.media.push_back({"0123456789abcdef0123456789abcdef", 1, 48000});
  g.partitions.push_back({"t"});
  signal::render_node c;
  c.id = 0;
  c.label = "clip";
  c.kind = signal::node_kind::clip_source;
  c.channels = 1;
  c.media = signal::media_region{0, 0, 0, 48000};
  signal::render_node o;
  o.id = 1;
  o.label = "out";
  o.kind = signal::node_kind::output;
  o.channels = 1;
  o.inputs = {0};
  o.params = {{"bits", 24}};
  g.nodes = {c, o};
  g.output_node = 1;
  return g;
}

} // namespace

BOOST_AUTO_TEST_CASE(a_load_job_whose_slots_overflow_the_bus_is_refused) {
  worker_fixture w;
  auto bus = media::shared_memory::create("worker-test-bus", 4096);
  wire::load_job lj;
  lj.job = 7;
  lj.graph = one_clip_graph();
  lj.partitions = {0};
  lj.bus_shm = bus.name();
  lj.bus_bytes = 4096;
  // slot_bytes * slots wraps to 0 in 64 bits: the check must not multiply.
  lj.slots = 1u << 31;
  lj.segment_frames = 1u << 30;
  lj.block_frames = 64;
  w.send(lj);
  w.expect_failure("out of range");
  lj.segment_frames = 1u << 20; // in range, but far larger than the bus
  lj.slots = 4;
  w.send(lj);
  w.expect_failure("smaller than its slots");
  lj.block_frames = 1u << 20;
  w.send(lj);
  w.expect_failure("out of range");
}

BOOST_AUTO_TEST_CASE(garbage_and_tasks_for_unknown_jobs_get_a_failure_not_a_crash) {
  worker_fixture w;
  w.send_raw("this is not MessagePack");
  w.expect_failure("w0.1");
  w.send_raw(std::string(1, '\x93')); // an array header and nothing else
  w.expect_failure("malformed");
  w.send(wire::render_task{99, 0, {0}, 0, 0, 64});
  w.expect_failure("unknown job");
  w.send(wire::job_ready{1}); // a message only Signal sends
  w.expect_failure("unexpected");
}

BOOST_AUTO_TEST_CASE(a_loaded_job_refuses_tasks_outside_it) {
  worker_fixture w;
  auto g = one_clip_graph();
  const auto layout = signal::bus_layout::make(g, 1024);
  auto bus = media::shared_memory::create("worker-test-bus2", layout.slot_bytes * 2);
  wire::load_job lj;
  lj.job = 3;
  lj.graph = g;
  lj.partitions = {0};
  lj.bus_shm = bus.name();
  lj.bus_bytes = bus.size();
  lj.slots = 2;
  lj.segment_frames = 1024;
  lj.block_frames = 256;
  w.send(lj);
  auto ready = w.receive();
  BOOST_TEST_REQUIRE(ready.has_value());
  BOOST_TEST_REQUIRE(std::holds_alternative<wire::job_ready>(*ready));
  w.send(wire::render_task{3, 0, {0}, 2, 0, 1024}); // slot 2 of 2
  w.expect_failure("outside the loaded job");
  w.send(wire::render_task{3, 0, {0}, 0, 0, 1025}); // more than a segment
  w.expect_failure("outside the loaded job");
  w.send(wire::render_task{3, 0, {5}, 0, 0, 1024}); // a partition it does not hold
  w.expect_failure("not loaded here");
  w.send(wire::render_task{3, 0, {0}, 1, 0, 1024}); // a good one
  auto done = w.receive();
  BOOST_TEST_REQUIRE(done.has_value());
  BOOST_TEST_REQUIRE(std::holds_alternative<wire::task_done>(*done));
  BOOST_TEST((std::get<wire::task_done>(*done).partitions == std::vector<uint32_t>{0}));
}

BOOST_AUTO_TEST_CASE(shutdown_ends_the_worker_with_status_0) {
  worker_fixture w;
  w.send(wire::shutdown{});
  int st = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds{5};
  pid_t got = 0;
  while (got == 0 && std::chrono::steady_clock::now() < deadline) {
    got = waitpid(w.pid(), &st, WNOHANG);
    if (got == 0)
      usleep(10000);
  }
  BOOST_TEST_REQUIRE(got == w.pid());
  BOOST_TEST(WIFEXITED(st));
  BOOST_TEST(WEXITSTATUS(st) == 0);
}
