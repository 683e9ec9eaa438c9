#include "kernel/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <deque>
#include <future>
#include <cstring>
#include <map>
#include <mutex>
#include <thread>

#include "kernel/error.hpp"

namespace loophole::kernel {

std::string child_exit::describe() const {
  if (!signalled)
    return "exited with status " + std::to_string(code);
  const char* name = sigabbrev_np(code);
  return "killed by signal " + std::to_string(code) +
         (name ? std::string{" (SIG"} + name + ")" : std::string{});
}

struct process_reaper::impl {
  struct child {
    int pidfd = -1;
    exit_callback on_exit;
  };

  int epoll_fd = -1;
  int wake_fd = -1;
  mutable std::mutex mtx;
  std::condition_variable all_reaped;
  std::map<pid_t, child> children;
  bool stopping = false;
  std::thread thread;

  impl() {
    epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 0; // 0: the wake fd; otherwise a pid
    epoll_ctl(epoll_fd, EPOLL_CTL_ADD, wake_fd, &ev);
    thread = std::thread([this] { run(); });
  }

  void run() {
    epoll_event events[16];
    for (;;) {
      int n = epoll_wait(epoll_fd, events, 16, -1);
      if (n < 0 && errno == EINTR)
        continue;
      for (int i = 0; i < n; ++i) {
        if (events[i].data.u64 == 0) {
          uint64_t v;
          [[maybe_unused]] auto r = read(wake_fd, &v, sizeof v);
          serve_spawn_requests();
          continue;
        }
        reap(static_cast<pid_t>(events[i].data.u64));
      }
      std::lock_guard guard{mtx};
      if (stopping && children.empty())
        return;
    }
  }

  void reap(pid_t pid) {
    child c;
    child_exit ex;
    {
      std::lock_guard guard{mtx};
      auto it = children.find(pid);
      if (it == children.end())
        return;
      siginfo_t info{};
      if (waitid(P_PIDFD, static_cast<id_t>(it->second.pidfd), &info, WEXITED | WNOHANG) != 0 ||
          info.si_pid == 0)
        return; // not exited yet (spurious wake-up)
      c = std::move(it->second);
      children.erase(it);
      epoll_ctl(epoll_fd, EPOLL_CTL_DEL, c.pidfd, nullptr);
      close(c.pidfd);
      ex.pid = pid;
      ex.signalled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
      ex.code = info.si_status;
      all_reaped.notify_all();
    }
    if (c.on_exit)
      c.on_exit(ex); // outside the lock: a callback may call back into the reaper
  }

  // -- spawning, on the reaper thread ------------------------------------------

  struct spawn_request {
    std::vector<std::string> argv;
    exit_callback on_exit;
    std::promise<caf::expected<pid_t>> result;
  };
  std::deque<std::unique_ptr<spawn_request>> requests; // guarded by mtx

  void serve_spawn_requests() {
    for (;;) {
      std::unique_ptr<spawn_request> req;
      {
        std::lock_guard guard{mtx};
        if (requests.empty())
          return;
        req = std::move(requests.front());
        requests.pop_front();
      }
      req->result.set_value(fork_exec(req->argv, std::move(req->on_exit)));
    }
  }

  caf::expected<pid_t> fork_exec(const std::vector<std::string>& argv, exit_callback on_exit);

  void wake() {
    uint64_t one = 1;
    [[maybe_unused]] auto r = write(wake_fd, &one, sizeof one);
  }
};

process_reaper::process_reaper() : impl_(std::make_unique<impl>()) {}

process_reaper::~process_reaper() {
  terminate_all(std::chrono::milliseconds{500});
  {
    std::lock_guard guard{impl_->mtx};
    impl_->stopping = true;
  }
  impl_->wake();
  impl_->thread.join();
  close(impl_->epoll_fd);
  close(impl_->wake_fd);
}

caf::expected<pid_t> process_reaper::spawn(const std::vector<std::string>& argv,
                                           exit_callback on_exit) {
  // PR_SET_PDEATHSIG fires when the *thread* that forked exits, so every
  // fork happens on the reaper thread, which lives as long as the reaper.
  auto req = std::make_unique<impl::spawn_request>();
  req->argv = argv;
  req->on_exit = std::move(on_exit);
  auto result = req->result.get_future();
  {
    std::lock_guard guard{impl_->mtx};
    impl_->requests.push_back(std::move(req));
  }
  impl_->wake();
  return result.get();
}

caf::expected<pid_t> process_reaper::impl::fork_exec(const std::vector<std::string>& argv,
                                                     exit_callback on_exit) {
  if (argv.empty())
    return make_error(errc::internal, "spawn: empty command line");
  // Everything the child needs is prepared before fork: after it, only
  // async-signal-safe calls are allowed in a multithreaded parent's child.
  std::vector<char*> args;
  for (const auto& a : argv)
    args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t parent = getpid();
  int status_pipe[2];
  if (pipe2(status_pipe, O_CLOEXEC) != 0)
    return make_error(errc::worker_unavailable,
                      std::string{"spawn: pipe: "} + std::strerror(errno));
  const pid_t pid = fork();
  if (pid < 0) {
    close(status_pipe[0]);
    close(status_pipe[1]);
    return make_error(errc::worker_unavailable,
                      std::string{"spawn: fork: "} + std::strerror(errno));
  }
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(args[0], args.data());
    int err = errno;
    [[maybe_unused]] auto r = write(status_pipe[1], &err, sizeof err);
    _exit(127);
  }
  close(status_pipe[1]);
  int exec_errno = 0;
  ssize_t got;
  do {
    got = read(status_pipe[0], &exec_errno, sizeof exec_errno);
  } while (got < 0 && errno == EINTR);
  close(status_pipe[0]);
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (got == static_cast<ssize_t>(sizeof exec_errno) || pidfd < 0) {
    if (pidfd >= 0)
      close(pidfd);
    // exec may have worked (and only pidfd_open failed): the child runs, so
    // end it before waiting, or this thread would wait for ever.
    ::kill(pid, SIGKILL);
    int st;
    waitpid(pid, &st, 0);
    return make_error(errc::worker_unavailable, "cannot start " + argv[0] + ": " +
                                                  std::strerror(got > 0 ? exec_errno : errno));
  }
  // Registered before this thread can look at exits again, so no exit is missed.
  std::lock_guard guard{mtx};
  children[pid] = child{pidfd, std::move(on_exit)};
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = static_cast<uint64_t>(pid);
  epoll_ctl(epoll_fd, EPOLL_CTL_ADD, pidfd, &ev);
  return pid;
}

void process_reaper::signal(pid_t pid, int sig) {
  std::lock_guard guard{impl_->mtx};
  auto it = impl_->children.find(pid);
  if (it != impl_->children.end())
    syscall(SYS_pidfd_send_signal, it->second.pidfd, sig, nullptr, 0);
}

void process_reaper::terminate_all(std::chrono::milliseconds grace) {
  std::unique_lock guard{impl_->mtx};
  for (auto& [pid, c] : impl_->children)
    syscall(SYS_pidfd_send_signal, c.pidfd, SIGTERM, nullptr, 0);
  if (!impl_->all_reaped.wait_for(guard, grace, [&] { return impl_->children.empty(); })) {
    for (auto& [pid, c] : impl_->children)
      syscall(SYS_pidfd_send_signal, c.pidfd, SIGKILL, nullptr, 0);
    impl_->all_reaped.wait(guard, [&] { return impl_->children.empty(); });
  }
}

size_t process_reaper::running() const {
  std::lock_guard guard{impl_->mtx};
  return impl_->children.size();
}

} // namespace loophole::kernel
