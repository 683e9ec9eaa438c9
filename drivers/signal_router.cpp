#include "drivers/signal_router.hpp"

#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <zmq.hpp>

#include "caf/send.hpp"
#include "messages/type_ids.hpp"
#include "messages/wire/signal_protocol.hpp"

namespace loophole::drivers {

struct signal_router::impl {
  std::string endpoint;
  zmq::context_t ctx{1};
  zmq::socket_t socket{ctx, zmq::socket_type::router};
  int wake_fd = -1;
  std::mutex mtx;
  std::map<std::string, caf::actor> handlers;
  std::deque<std::pair<std::string, std::string>> outbox;
  std::atomic<bool> stopping{false};
  std::atomic<uint64_t> dropped{0};
  std::thread thread;

  void run() {
    zmq::pollitem_t items[] = {
      {static_cast<void*>(socket), 0, ZMQ_POLLIN, 0},
      {nullptr, wake_fd, ZMQ_POLLIN, 0},
    };
    while (!stopping) {
      try {
        zmq::poll(items, 2, std::chrono::milliseconds{-1});
      } catch (const zmq::error_t&) {
        continue; // EINTR
      }
      if (items[1].revents & ZMQ_POLLIN) {
        uint64_t v;
        [[maybe_unused]] auto r = ::read(wake_fd, &v, sizeof v);
      }
      drain_outbox();
      if (items[0].revents & ZMQ_POLLIN)
        receive_all();
    }
  }

  void drain_outbox() {
    std::deque<std::pair<std::string, std::string>> batch;
    {
      std::lock_guard lock{mtx};
      batch.swap(outbox);
    }
    for (auto& [id, frame] : batch) {
      try {
        socket.send(zmq::buffer(id), zmq::send_flags::sndmore);
        socket.send(zmq::buffer(frame), zmq::send_flags::none);
      } catch (const zmq::error_t&) {
        ++dropped; // EHOSTUNREACH: the instance is gone; its supervisor knows
      }
    }
  }

  void receive_all() {
    for (;;) {
      zmq::message_t id, payload;
      if (!socket.recv(id, zmq::recv_flags::dontwait))
        return;
      if (!id.more()) {
        ++dropped;
        continue;
      }
      if (!socket.recv(payload, zmq::recv_flags::none)) {
        ++dropped;
        continue;
      }
      if (payload.more()) {
        // Anything beyond [id, payload] is not our protocol: drop it whole.
        zmq::message_t rest;
        do {
          if (!socket.recv(rest, zmq::recv_flags::none))
            break;
        } while (rest.more());
        ++dropped;
        continue;
      }
      caf::actor handler;
      {
        std::lock_guard lock{mtx};
        auto it = handlers.find(id.to_string());
        if (it != handlers.end())
          handler = it->second;
      }
      if (!handler) {
        ++dropped;
        continue;
      }
      caf::anon_send(handler, atoms::frame_atom::value, payload.to_string());
    }
  }
};

signal_router::signal_router(std::string endpoint) : impl_(std::make_unique<impl>()) {
  impl_->endpoint = std::move(endpoint);
  impl_->socket.set(zmq::sockopt::router_mandatory, 1);
  impl_->socket.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(wire::max_frame_bytes));
  impl_->socket.set(zmq::sockopt::linger, 0);
  impl_->socket.set(zmq::sockopt::sndhwm, 0);
  impl_->socket.set(zmq::sockopt::rcvhwm, 0);
  try {
    impl_->socket.bind(impl_->endpoint);
  } catch (const zmq::error_t& e) {
    throw std::runtime_error("cannot bind " + impl_->endpoint + ": " + e.what());
  }
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  impl_->thread = std::thread([this] { impl_->run(); });
}

signal_router::~signal_router() {
  impl_->stopping = true;
  uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(impl_->wake_fd, &one, sizeof one);
  impl_->thread.join();
  ::close(impl_->wake_fd);
}

const std::string& signal_router::endpoint() const noexcept {
  return impl_->endpoint;
}

void signal_router::attach(const std::string& id, caf::actor handler) {
  std::lock_guard lock{impl_->mtx};
  impl_->handlers[id] = std::move(handler);
}

void signal_router::detach(const std::string& id) {
  std::lock_guard lock{impl_->mtx};
  impl_->handlers.erase(id);
}

void signal_router::send(const std::string& id, std::string frame) {
  {
    std::lock_guard lock{impl_->mtx};
    impl_->outbox.emplace_back(id, std::move(frame));
  }
  uint64_t one = 1;
  [[maybe_unused]] auto r = ::write(impl_->wake_fd, &one, sizeof one);
}

uint64_t signal_router::dropped() const noexcept {
  return impl_->dropped;
}

namespace {

// Folders of earlier runs whose process is gone (killed before it could
// remove its own): "<prefix><pid>" in `parent`.
void remove_dead_runtime_dirs(const std::filesystem::path& parent, const std::string& prefix) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(parent, ec)) {
    const auto name = entry.path().filename().string();
    if (name.rfind(prefix, 0) != 0 || !entry.is_directory(ec))
      continue;
    const auto digits = name.substr(prefix.size());
    if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos ||
        digits.size() > 9)
      continue;
    const auto pid = static_cast<pid_t>(std::stol(digits));
    if (kill(pid, 0) == 0 || errno == EPERM)
      continue; // still running
    std::filesystem::remove_all(entry.path(), ec);
  }
}

} // namespace

std::string make_runtime_dir() {
  namespace fs = std::filesystem;
  std::string base;
  if (const char* xdg = std::getenv("XDG_RUNTIME_DIR"); xdg && *xdg && fs::is_directory(xdg)) {
    remove_dead_runtime_dirs(xdg, "loophole-");
    base = std::string{xdg} + "/loophole-" + std::to_string(getpid());
  } else {
    const auto prefix = "loophole-" + std::to_string(getuid()) + "-";
    remove_dead_runtime_dirs("/tmp", prefix);
    base = "/tmp/" + prefix + std::to_string(getpid());
  }
  fs::remove_all(base);
  if (mkdir(base.c_str(), 0700) != 0)
    throw std::runtime_error("cannot create the runtime folder " + base);
  return base;
}

void remove_runtime_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

} // namespace loophole::drivers
