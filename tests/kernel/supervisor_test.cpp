// kernel/supervisor.hpp: the one-for-one supervisor starts and registers its children, restarts
// a child that dies abnormally (and publishes the new one under the same name), leaves a child
// that ends normally alone, escalates past its restart intensity, and takes its names (and, as
// every supervisor must, its children) with it when it ends.

#define BOOST_TEST_MODULE kernel_supervisor
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "caf/actor_system.hpp"
#include "caf/actor_system_config.hpp"
#include "caf/event_based_actor.hpp"
#include "caf/exit_reason.hpp"
#include "caf/scoped_actor.hpp"
#include "caf/sec.hpp"
#include "kernel/actor_system.hpp"
#include "kernel/supervisor.hpp"
#include "messages/type_ids.hpp"

using namespace std::chrono_literals;
using loophole::kernel::child_spec;
using loophole::kernel::lookup;
using loophole::kernel::spawn_supervisor;
using loophole::kernel::supervisor_limits;

namespace {

using crash_atom = caf::atom_constant<caf::atom("crash")>;   // quit with sec::runtime_error
using throw_atom = caf::atom_constant<caf::atom("throw")>;   // quit as if it threw
using finish_atom = caf::atom_constant<caf::atom("finish")>; // quit normally
using ping_atom = caf::atom_constant<caf::atom("ping")>;     // -> its name

constexpr auto timeout = 5s;

/// Every child any supervisor of a test started, so the fixture can end them all (an actor
/// left running would keep the actor system's destructor waiting forever).
class spawn_log {
public:
  void started(const std::string& name, caf::actor who) {
    std::lock_guard lock{mtx_};
    all_.emplace_back(name, std::move(who));
  }

  /// How many times `name` was started.
  size_t starts(const std::string& name) const {
    std::lock_guard lock{mtx_};
    size_t n = 0;
    for (const auto& [k, v] : all_)
      n += k == name ? 1u : 0u;
    return n;
  }

  /// The actor most recently started as `name`.
  caf::actor latest(const std::string& name) const {
    std::lock_guard lock{mtx_};
    for (auto it = all_.rbegin(); it != all_.rend(); ++it)
      if (it->first == name)
        return it->second;
    return {};
  }

  std::vector<caf::actor> actors() const {
    std::lock_guard lock{mtx_};
    std::vector<caf::actor> out;
    for (const auto& entry : all_)
      out.push_back(entry.second);
    return out;
  }

private:
  mutable std::mutex mtx_;
  std::vector<std::pair<std::string, caf::actor>> all_;
};

caf::behavior crashable(caf::event_based_actor* self, std::string name,
                        std::shared_ptr<spawn_log> log) {
  log->started(name, caf::actor_cast<caf::actor>(self));
  return {
      [name](ping_atom) { return name; },
      [self](crash_atom) { self->quit(caf::sec::runtime_error); },
      [self](throw_atom) { self->quit(caf::exit_reason::unhandled_exception); },
      [self](finish_atom) { self->quit(); },
  };
}

caf::actor_system_config& configured(caf::actor_system_config& cfg) {
  loophole::kernel::configure(cfg, 2);
  return cfg;
}

struct fixture {
  caf::actor_system_config cfg;
  caf::actor_system sys{configured(cfg)};
  std::shared_ptr<spawn_log> log = std::make_shared<spawn_log>();
  std::vector<caf::actor> supervisors;

  fixture() = default;
  fixture(const fixture&) = delete;
  fixture& operator=(const fixture&) = delete;

  ~fixture() {
    // Whatever a test left behind (on purpose or through a bug) ends here.
    for (const auto& sup : supervisors)
      caf::anon_send_exit(sup, caf::exit_reason::kill);
    for (const auto& child : log->actors())
      caf::anon_send_exit(child, caf::exit_reason::kill);
  }

  child_spec spec(const std::string& name) {
    return {name, [name, lg = log](caf::actor_system& s) { return s.spawn(crashable, name, lg); }};
  }

  caf::actor start(std::vector<std::string> names, supervisor_limits limits = {}) {
    std::vector<child_spec> specs;
    for (const auto& n : names)
      specs.push_back(spec(n));
    auto sup = spawn_supervisor(sys, std::move(specs), limits);
    supervisors.push_back(sup);
    return sup;
  }

  /// Waits until `name` has been started `n` times in all and returns the latest one.
  caf::actor wait_for_start(const std::string& name, size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (log->starts(name) < n && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(5ms);
    return log->starts(name) >= n ? log->latest(name) : caf::actor{};
  }

  /// Whether the registry comes to name `expected` under `name` within a second (the
  /// supervisor registers a child right after starting it).
  bool registered_as(const std::string& name, const caf::actor& expected) {
    const auto deadline = std::chrono::steady_clock::now() + 1s;
    while (std::chrono::steady_clock::now() < deadline) {
      if (lookup(sys, name) == expected)
        return true;
      std::this_thread::sleep_for(5ms);
    }
    return lookup(sys, name) == expected;
  }

  /// Whether `name` disappears from the registry within a second.
  bool unregistered(const std::string& name) { return registered_as(name, caf::actor{}); }
};

/// A scoped actor that keeps every down_msg it receives, so waiting for one actor's never
/// loses another's.
class watcher {
public:
  explicit watcher(caf::actor_system& sys) : self_{sys} {}

  caf::scoped_actor& operator*() { return self_; }
  caf::blocking_actor* operator->() { return self_.ptr(); }

  /// The reason `who` went down with, waiting up to `timeout` (monitor `who` first).
  std::optional<caf::error> wait_down(const caf::actor_addr& who) {
    return wait_until(who, std::chrono::steady_clock::now() + timeout);
  }

  /// No down_msg from `who` arrives within `wait`.
  bool stays_up(const caf::actor_addr& who, std::chrono::milliseconds wait) {
    return !wait_until(who, std::chrono::steady_clock::now() + wait).has_value();
  }

private:
  std::optional<caf::error> wait_until(const caf::actor_addr& who,
                                       std::chrono::steady_clock::time_point deadline) {
    for (;;) {
      if (auto it = downs_.find(who); it != downs_.end())
        return it->second;
      if (std::chrono::steady_clock::now() >= deadline)
        return std::nullopt;
      self_->receive([&](caf::down_msg& m) { downs_.emplace(m.source, m.reason); },
                     caf::after(20ms) >> [] {});
    }
  }

  caf::scoped_actor self_;
  std::map<caf::actor_addr, caf::error> downs_;
};

/// The name `who` answers to, or "<no answer: ...>".
std::string ping(watcher& self, const caf::actor& who) {
  std::string answer = "<no answer>";
  self->request(who, timeout, ping_atom::value)
      .receive([&](std::string& name) { answer = std::move(name); },
               [&](caf::error& e) { answer = "<no answer: " + caf::to_string(e) + ">"; });
  return answer;
}

/// The supervisor's restart count, or -1 if it does not answer.
int64_t restarts(watcher& self, const caf::actor& sup) {
  int64_t n = -1;
  self->request(sup, timeout, loophole::atoms::status_atom::value)
      .receive([&](uint32_t count) { n = count; }, [](caf::error&) {});
  return n;
}

bool is_sec(const caf::error& e, caf::sec code) {
  return e.category() == caf::atom("system") && e.code() == static_cast<uint8_t>(code);
}

} // namespace

BOOST_FIXTURE_TEST_SUITE(supervisor, fixture)

// The registry keeps the first actor put under a name: CAF 0.17's actor_registry::put_impl is
// `named_entries_.emplace(key, value)`, which leaves an existing entry alone.
//
// BUG (every "re-registered" check below): kernel/actor_system.cpp register_as promises to
// replace an earlier actor of the same name but only calls registry().put(), so after a restart
// kernel::lookup keeps returning the dead child (every request to it fails with
// request_receiver_down) until the supervisor ends. Fix: erase the name first
// (`sys.registry().erase(key); sys.registry().put(key, who);`).

BOOST_AUTO_TEST_CASE(every_child_is_started_and_registered_before_spawn_returns) {
  auto sup = start({"alpha", "beta"});
  watcher self{sys};
  auto alpha = lookup(sys, "alpha");
  auto beta = lookup(sys, "beta");
  BOOST_TEST_REQUIRE(static_cast<bool>(alpha));
  BOOST_TEST_REQUIRE(static_cast<bool>(beta));
  BOOST_TEST((alpha != beta));
  // (A child runs its own start-up on a scheduler thread, maybe after spawn_supervisor returned.)
  BOOST_TEST((alpha == wait_for_start("alpha", 1)));
  BOOST_TEST(ping(self, alpha) == "alpha");
  BOOST_TEST(ping(self, beta) == "beta");
  BOOST_TEST(log->starts("alpha") == 1u);
  BOOST_TEST(restarts(self, sup) == 0);
}

BOOST_AUTO_TEST_CASE(a_crashed_child_is_restarted_and_registered_under_its_name) {
  auto sup = start({"alpha", "beta"});
  watcher self{sys};
  auto old = lookup(sys, "alpha");
  auto beta = lookup(sys, "beta");
  BOOST_TEST_REQUIRE(static_cast<bool>(old));
  self->monitor(old);
  self->send(old, crash_atom::value);
  auto reason = self.wait_down(old.address());
  BOOST_TEST_REQUIRE(reason.has_value(), "the child did not crash");
  BOOST_TEST(is_sec(*reason, caf::sec::runtime_error), caf::to_string(*reason));

  auto fresh = wait_for_start("alpha", 2);
  BOOST_TEST_REQUIRE(static_cast<bool>(fresh), "alpha was not restarted");
  BOOST_TEST((fresh != old));
  BOOST_TEST(ping(self, fresh) == "alpha"); // alive and answering
  BOOST_TEST(restarts(self, sup) == 1);
  // Regression (fixed): see the top of the suite: lookup still returns the dead `old`.
  BOOST_TEST(registered_as("alpha", fresh), "alpha is not re-registered as the new child");
  BOOST_TEST(ping(self, lookup(sys, "alpha")) == "alpha"); // Regression (fixed): (same)
  // One for one: the sibling is the same actor as before.
  BOOST_TEST((lookup(sys, "beta") == beta));
  BOOST_TEST(log->starts("beta") == 1u);
}

BOOST_AUTO_TEST_CASE(unhandled_exceptions_and_kills_are_crashes_too) {
  auto sup = start({"alpha"});
  watcher self{sys};
  auto first = lookup(sys, "alpha");
  self->monitor(first);
  self->send(first, throw_atom::value);
  auto reason = self.wait_down(first.address());
  BOOST_TEST_REQUIRE(reason.has_value());
  BOOST_TEST((*reason == caf::exit_reason::unhandled_exception));
  auto second = wait_for_start("alpha", 2);
  BOOST_TEST_REQUIRE(static_cast<bool>(second));

  self->monitor(second);
  self->send_exit(second, caf::exit_reason::kill);
  BOOST_TEST_REQUIRE(self.wait_down(second.address()).has_value());
  auto third = wait_for_start("alpha", 3);
  BOOST_TEST_REQUIRE(static_cast<bool>(third));
  BOOST_TEST((third != first));
  BOOST_TEST(ping(self, third) == "alpha");
  BOOST_TEST(restarts(self, sup) == 2);
  BOOST_TEST(registered_as("alpha", third)); // Regression (fixed): see the top of the suite.
}

BOOST_AUTO_TEST_CASE(a_child_that_ends_normally_is_not_restarted) {
  auto sup = start({"alpha", "beta"});
  watcher self{sys};
  auto alpha = lookup(sys, "alpha");
  self->monitor(alpha);
  self->send(alpha, finish_atom::value);
  auto reason = self.wait_down(alpha.address());
  BOOST_TEST_REQUIRE(reason.has_value());
  BOOST_TEST((*reason == caf::exit_reason::normal));
  // The supervisor's down_msg was queued before ours (it monitored first), so it has been
  // handled when this request is.
  BOOST_TEST(restarts(self, sup) == 0);
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(log->starts("alpha") == 1u);
  BOOST_TEST(ping(self, lookup(sys, "beta")) == "beta");
  // Regression (fixed): kernel/supervisor.cpp, the down handler returns on a normal exit without
  // unregister()ing the child's name: the registry keeps a strong reference to the dead actor
  // until the supervisor ends, and lookup("alpha") hands out a handle every request to which
  // fails (so checks like timeline_resolver's `if (!pool)` cannot see it is gone). Erase the
  // name (kernel::unregister) before returning.
  BOOST_TEST(unregistered("alpha"), "lookup returns the dead child after a normal exit");

  // A user_shutdown is a deliberate stop, not a crash, either.
  auto beta = lookup(sys, "beta");
  self->monitor(beta);
  self->send_exit(beta, caf::exit_reason::user_shutdown);
  BOOST_TEST_REQUIRE(self.wait_down(beta.address()).has_value());
  BOOST_TEST(restarts(self, sup) == 0);
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(log->starts("beta") == 1u);
}

BOOST_AUTO_TEST_CASE(more_than_max_restarts_within_the_period_escalates) {
  auto sup = start({"alpha", "beta"}, supervisor_limits{2, 10s});
  watcher self{sys};
  self->monitor(sup);
  auto beta = lookup(sys, "beta");
  self->monitor(beta);
  auto child = wait_for_start("alpha", 1);
  for (size_t i = 1; i <= 2; ++i) {
    self->send(child, crash_atom::value);
    child = wait_for_start("alpha", i + 1);
    BOOST_TEST_REQUIRE(static_cast<bool>(child), "restart " << i << " did not happen");
  }
  BOOST_TEST(restarts(self, sup) == 2);
  BOOST_TEST(self.stays_up(sup.address(), 50ms));

  // The third crash within 10 s is one too many: the supervisor exits with the child's error.
  self->send(child, crash_atom::value);
  auto reason = self.wait_down(sup.address());
  BOOST_TEST_REQUIRE(reason.has_value(), "the supervisor did not escalate");
  BOOST_TEST(is_sec(*reason, caf::sec::runtime_error), caf::to_string(*reason));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(log->starts("alpha") == 3u); // no fourth start
  BOOST_TEST(unregistered("alpha"));
  BOOST_TEST(unregistered("beta"));
  // Regression (fixed): kernel/supervisor.cpp monitors its children instead of linking them, and escalation
  // (`self->quit(msg.reason)` in the down handler) does not stop the others: "beta" lives on,
  // orphaned and unnamed (the actor system's destructor would wait for it forever; the fixture
  // kills it). Spawn children linked (or send_exit to every running child before quitting).
  BOOST_TEST(self.wait_down(beta.address()).has_value(),
             "the sibling of the crashing child outlived the supervisor");
}

BOOST_AUTO_TEST_CASE(restarts_older_than_the_period_do_not_count) {
  auto sup = start({"alpha"}, supervisor_limits{1, 200ms});
  watcher self{sys};
  self->monitor(sup);
  auto child = wait_for_start("alpha", 1);
  for (size_t i = 1; i <= 3; ++i) {
    self->send(child, crash_atom::value);
    child = wait_for_start("alpha", i + 1);
    BOOST_TEST_REQUIRE(static_cast<bool>(child), "restart " << i << " did not happen");
    std::this_thread::sleep_for(300ms); // out of the window before the next crash
  }
  BOOST_TEST(self.stays_up(sup.address(), 50ms));
  BOOST_TEST(restarts(self, sup) == 3);
  BOOST_TEST(ping(self, child) == "alpha");
}

BOOST_AUTO_TEST_CASE(zero_max_restarts_escalates_on_the_first_crash) {
  auto sup = start({"alpha"}, supervisor_limits{0, 10s});
  watcher self{sys};
  self->monitor(sup);
  self->send(lookup(sys, "alpha"), crash_atom::value);
  auto reason = self.wait_down(sup.address());
  BOOST_TEST_REQUIRE(reason.has_value());
  BOOST_TEST(is_sec(*reason, caf::sec::runtime_error));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(log->starts("alpha") == 1u);
  BOOST_TEST(unregistered("alpha"));
}

BOOST_AUTO_TEST_CASE(stopping_the_supervisor_stops_its_children_and_removes_their_names) {
  auto sup = start({"alpha", "beta"});
  watcher self{sys};
  auto alpha = lookup(sys, "alpha");
  auto beta = lookup(sys, "beta");
  self->monitor(sup);
  self->monitor(alpha);
  self->monitor(beta);
  self->send_exit(sup, caf::exit_reason::user_shutdown);
  auto sup_reason = self.wait_down(sup.address());
  BOOST_TEST_REQUIRE(sup_reason.has_value());
  BOOST_TEST((*sup_reason == caf::exit_reason::user_shutdown));
  auto alpha_reason = self.wait_down(alpha.address());
  auto beta_reason = self.wait_down(beta.address());
  BOOST_TEST_REQUIRE(alpha_reason.has_value());
  BOOST_TEST_REQUIRE(beta_reason.has_value());
  BOOST_TEST((*alpha_reason == caf::exit_reason::user_shutdown));
  BOOST_TEST((*beta_reason == caf::exit_reason::user_shutdown));
  BOOST_TEST(unregistered("alpha"));
  BOOST_TEST(unregistered("beta"));
  std::this_thread::sleep_for(100ms);
  BOOST_TEST(log->starts("alpha") == 1u); // not restarted on the way out
}

BOOST_AUTO_TEST_CASE(killing_the_supervisor_takes_its_children_too) {
  auto sup = start({"alpha"});
  watcher self{sys};
  auto alpha = lookup(sys, "alpha");
  self->monitor(sup);
  self->monitor(alpha);
  self->send_exit(sup, caf::exit_reason::kill); // no exit handler runs for a kill
  BOOST_TEST_REQUIRE(self.wait_down(sup.address()).has_value());
  BOOST_TEST(unregistered("alpha"));
  // Regression (fixed): same cause as the escalation case: a child is only monitored, so when its supervisor
  // is killed (or ends in any way but an exit_msg it handles) the child keeps running. Linked
  // children would go with it.
  BOOST_TEST(self.wait_down(alpha.address()).has_value(),
             "the child outlived its killed supervisor");
}

BOOST_AUTO_TEST_CASE(several_children_are_each_restarted_on_their_own) {
  auto sup = start({"alpha", "beta", "gamma"});
  watcher self{sys};
  const std::vector<std::pair<std::string, size_t>> crashes{{"beta", 2}, {"gamma", 2}, {"beta", 3}};
  for (const auto& [name, nth] : crashes) {
    auto old = wait_for_start(name, nth - 1);
    self->send(old, crash_atom::value);
    auto fresh = wait_for_start(name, nth);
    BOOST_TEST_REQUIRE(static_cast<bool>(fresh), name << " was not restarted");
    BOOST_TEST(ping(self, fresh) == name);
  }
  BOOST_TEST(log->starts("alpha") == 1u);
  BOOST_TEST(log->starts("beta") == 3u);
  BOOST_TEST(log->starts("gamma") == 2u);
  BOOST_TEST(restarts(self, sup) == 3);
  BOOST_TEST((lookup(sys, "alpha") == wait_for_start("alpha", 1)));
  BOOST_TEST(registered_as("beta", log->latest("beta")));   // Regression (fixed): see the top of the suite.
  BOOST_TEST(registered_as("gamma", log->latest("gamma"))); // Regression (fixed): see the top of the suite.
}

BOOST_AUTO_TEST_SUITE_END()
