// kernel/child_process.hpp: process_reaper starts children, reports how each ended, reaps every
// one (no zombies), and ends them all on terminate_all, SIGKILLing those that ignore SIGTERM.

#define BOOST_TEST_MODULE kernel_child_process
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kernel/child_process.hpp"
#include "kernel/error.hpp"

using loophole::kernel::child_exit;
using loophole::kernel::process_reaper;
using namespace std::chrono_literals;

namespace {

/// Collects the exits the reaper reports, for the test thread to wait on.
class exits {
public:
  process_reaper::exit_callback callback() {
    return [this](const child_exit& ex) {
      std::lock_guard lock{mtx_};
      seen_.push_back(ex);
      cv_.notify_all();
    };
  }

  /// The exit of `pid`, waiting up to `timeout` for it.
  std::optional<child_exit> wait_for(pid_t pid, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock{mtx_};
    std::optional<child_exit> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const auto& ex : seen_)
        if (ex.pid == pid)
          found = ex;
      return found.has_value();
    });
    return found;
  }

  size_t count() const {
    std::lock_guard lock{mtx_};
    return seen_.size();
  }

private:
  mutable std::mutex mtx_;
  std::condition_variable cv_;
  std::vector<child_exit> seen_;
};

/// True when `pid` is no child of ours any more: reaped, so waitpid knows nothing of it.
bool reaped(pid_t pid) {
  errno = 0;
  return waitpid(pid, nullptr, WNOHANG) == -1 && errno == ECHILD;
}

/// Children of this process that are zombies (exited, not reaped).
std::vector<pid_t> zombie_children() {
  std::vector<pid_t> zombies;
  const auto self = getpid();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const auto name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos)
      continue;
    std::ifstream in(entry.path() / "stat");
    std::string line;
    if (!std::getline(in, line))
      continue;
    // pid (comm) state ppid ...; comm may hold spaces and parentheses.
    const auto close = line.rfind(')');
    if (close == std::string::npos)
      continue;
    std::istringstream rest(line.substr(close + 1));
    char state = 0;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == self && state == 'Z')
      zombies.push_back(static_cast<pid_t>(std::stol(name)));
  }
  return zombies;
}

/// Whether `pid` ignores SIGTERM (read from /proc/<pid>/status).
bool ignores_sigterm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("SigIgn:", 0) == 0) {
      const auto mask = std::stoull(line.substr(7), nullptr, 16);
      return (mask >> (SIGTERM - 1)) & 1u;
    }
  return false;
}

void expect_no_leftovers(const process_reaper& reaper, const std::vector<pid_t>& pids) {
  BOOST_TEST(reaper.running() == 0u);
  for (auto pid : pids)
    BOOST_TEST(reaped(pid), "pid " << pid << " is still our child");
  BOOST_TEST(zombie_children().empty());
}

} // namespace

BOOST_AUTO_TEST_CASE(a_child_that_exits_with_3_is_reported_as_exited_3) {
  exits seen;
  process_reaper reaper;
  auto pid = reaper.spawn({"/bin/sh", "-c", "exit 3"}, seen.callback());
  BOOST_TEST_REQUIRE(static_cast<bool>(pid), "spawn failed");
  auto ex = seen.wait_for(*pid);
  BOOST_TEST_REQUIRE(ex.has_value(), "no exit reported");
  BOOST_TEST(ex->pid == *pid);
  BOOST_TEST(!ex->signalled);
  BOOST_TEST(ex->code == 3);
  BOOST_TEST(ex->describe() == "exited with status 3");
  expect_no_leftovers(reaper, {*pid});
}

BOOST_AUTO_TEST_CASE(a_child_killed_with_sigkill_is_reported_as_signalled_9) {
  exits seen;
  process_reaper reaper;
  auto pid = reaper.spawn({"/bin/sleep", "30"}, seen.callback());
  BOOST_TEST_REQUIRE(static_cast<bool>(pid));
  BOOST_TEST(reaper.running() == 1u);
  reaper.signal(*pid, SIGKILL);
  auto ex = seen.wait_for(*pid);
  BOOST_TEST_REQUIRE(ex.has_value(), "no exit reported");
  BOOST_TEST(ex->signalled);
  BOOST_TEST(ex->code == SIGKILL);
  BOOST_TEST(ex->describe() == "killed by signal 9 (SIGKILL)");
  expect_no_leftovers(reaper, {*pid});
  // Signalling a reaped child is a no-op.
  reaper.signal(*pid, SIGKILL);
  BOOST_TEST(seen.count() == 1u);
}

BOOST_AUTO_TEST_CASE(a_nonexistent_executable_is_an_error_and_leaves_nothing_behind) {
  exits seen;
  process_reaper reaper;
  auto pid = reaper.spawn({"/nonexistent/loophole-signal", "--x"}, seen.callback());
  BOOST_TEST(!pid);
  if (!pid) {
    const auto why = loophole::kernel::describe(pid.error());
    BOOST_TEST(why.find("/nonexistent/loophole-signal") != std::string::npos, why);
    BOOST_TEST(pid.error().category() == loophole::kernel::error_category);
  }
  BOOST_TEST(reaper.running() == 0u);
  BOOST_TEST(zombie_children().empty());
  BOOST_TEST(seen.count() == 0u);
}

BOOST_AUTO_TEST_CASE(an_empty_command_line_is_an_error) {
  process_reaper reaper;
  auto pid = reaper.spawn({}, nullptr);
  BOOST_TEST(!pid);
  BOOST_TEST(reaper.running() == 0u);
}

BOOST_AUTO_TEST_CASE(many_children_are_each_reported_with_their_own_status) {
  exits seen;
  process_reaper reaper;
  std::vector<pid_t> pids;
  for (int code = 0; code < 8; ++code) {
    auto pid = reaper.spawn({"/bin/sh", "-c", "exit " + std::to_string(code)}, seen.callback());
    BOOST_TEST_REQUIRE(static_cast<bool>(pid));
    pids.push_back(*pid);
  }
  for (size_t i = 0; i < pids.size(); ++i) {
    auto ex = seen.wait_for(pids[i]);
    BOOST_TEST_REQUIRE(ex.has_value());
    BOOST_TEST(!ex->signalled);
    BOOST_TEST(ex->code == static_cast<int>(i));
  }
  expect_no_leftovers(reaper, pids);
}

BOOST_AUTO_TEST_CASE(terminate_all_ends_children_that_honour_sigterm_at_once) {
  exits seen;
  process_reaper reaper;
  std::vector<pid_t> pids;
  for (int i = 0; i < 3; ++i) {
    auto pid = reaper.spawn({"/bin/sleep", "30"}, seen.callback());
    BOOST_TEST_REQUIRE(static_cast<bool>(pid));
    pids.push_back(*pid);
  }
  const auto start = std::chrono::steady_clock::now();
  reaper.terminate_all(5000ms);
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(took < 4000ms);
  for (auto pid : pids) {
    auto ex = seen.wait_for(pid, 1s);
    BOOST_TEST_REQUIRE(ex.has_value());
    BOOST_TEST(ex->signalled);
    BOOST_TEST(ex->code == SIGTERM);
  }
  expect_no_leftovers(reaper, pids);
}

BOOST_AUTO_TEST_CASE(terminate_all_kills_a_child_ignoring_sigterm_after_the_grace_period) {
  exits seen;
  process_reaper reaper;
  // `exec` keeps the TERM-ignoring process our direct child (a plain `sleep` would leave an
  // orphan behind once the shell is killed).
  auto pid = reaper.spawn({"/bin/sh", "-c", "trap '' TERM; exec sleep 30"}, seen.callback());
  BOOST_TEST_REQUIRE(static_cast<bool>(pid));
  // Wait until the trap is in place, or SIGTERM would simply end the shell.
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (!ignores_sigterm(*pid) && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(5ms);
  BOOST_TEST_REQUIRE(ignores_sigterm(*pid));

  const auto grace = 300ms;
  const auto start = std::chrono::steady_clock::now();
  reaper.terminate_all(grace);
  const auto took = std::chrono::steady_clock::now() - start;
  BOOST_TEST(took >= grace);
  BOOST_TEST(took < grace + 1500ms,
             "terminate_all took " << std::chrono::duration<double>(took).count() << " s");
  auto ex = seen.wait_for(*pid, 1s);
  BOOST_TEST_REQUIRE(ex.has_value());
  BOOST_TEST(ex->signalled);
  BOOST_TEST(ex->code == SIGKILL);
  expect_no_leftovers(reaper, {*pid});
}

BOOST_AUTO_TEST_CASE(terminate_all_with_no_children_returns_at_once) {
  process_reaper reaper;
  const auto start = std::chrono::steady_clock::now();
  reaper.terminate_all(2000ms);
  BOOST_TEST((std::chrono::steady_clock::now() - start < 1000ms));
}

BOOST_AUTO_TEST_CASE(destroying_the_reaper_ends_and_reaps_its_children) {
  exits seen;
  std::vector<pid_t> pids;
  {
    process_reaper reaper;
    for (int i = 0; i < 2; ++i) {
      auto pid = reaper.spawn({"/bin/sleep", "30"}, seen.callback());
      BOOST_TEST_REQUIRE(static_cast<bool>(pid));
      pids.push_back(*pid);
    }
  }
  for (auto pid : pids) {
    BOOST_TEST(reaped(pid));
    BOOST_TEST(seen.wait_for(pid, 0ms).has_value());
  }
  BOOST_TEST(zombie_children().empty());
}

BOOST_AUTO_TEST_CASE(a_child_outlives_the_thread_that_spawned_it) {
  // The header promises children die with Pulse (the process). PR_SET_PDEATHSIG fires when
  // the *thread* that forked exits, so a spawn from a thread that ends must not take the
  // child with it.
  exits seen;
  process_reaper reaper;
  std::optional<caf::expected<pid_t>> spawned;
  std::thread spawner([&] {
    spawned.emplace(reaper.spawn({"/bin/sleep", "30"}, seen.callback()));
  });
  spawner.join();
  BOOST_TEST_REQUIRE((spawned.has_value() && static_cast<bool>(*spawned)));
  const auto& pid = *spawned;
  auto early = seen.wait_for(*pid, 500ms);
  // Regression: PR_SET_PDEATHSIG follows the forking thread, so a child must
  // not die with the (short-lived) thread that asked for it.
  BOOST_TEST(!early.has_value(), "the child died with its spawning thread: "
                                     << (early ? early->describe() : std::string{}));
  reaper.signal(*pid, SIGKILL);
  BOOST_TEST(seen.wait_for(*pid).has_value());
  expect_no_leftovers(reaper, {*pid});
}

BOOST_AUTO_TEST_CASE(describe_names_the_status_or_the_signal) {
  BOOST_TEST((child_exit{1, false, 0}.describe() == "exited with status 0"));
  BOOST_TEST((child_exit{1, true, SIGTERM}.describe() == "killed by signal 15 (SIGTERM)"));
  BOOST_TEST((child_exit{1, true, SIGSEGV}.describe() == "killed by signal 11 (SIGSEGV)"));
}
