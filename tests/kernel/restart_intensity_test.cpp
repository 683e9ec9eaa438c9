// kernel/restart_intensity.hpp: OTP's restart intensity as pure bookkeeping, driven with
// made-up times.

#define BOOST_TEST_MODULE kernel_restart_intensity
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <chrono>

#include "kernel/restart_intensity.hpp"

using loophole::kernel::restart_intensity;
using namespace std::chrono_literals;

namespace {

/// A fixed origin, so tests use "seconds after t0".
const restart_intensity::clock::time_point t0{std::chrono::hours{1000}};

restart_intensity::clock::time_point at(std::chrono::milliseconds ms) {
  return t0 + ms;
}

} // namespace

BOOST_AUTO_TEST_CASE(grants_up_to_the_limit_within_a_period_then_refuses) {
  restart_intensity ri{3, 10s};
  BOOST_TEST(ri.max_restarts() == 3u);
  BOOST_TEST((ri.period() == restart_intensity::clock::duration{10s}));
  BOOST_TEST(ri.try_restart(at(0ms)));
  BOOST_TEST(ri.try_restart(at(1000ms)));
  BOOST_TEST(ri.try_restart(at(2000ms)));
  BOOST_TEST(!ri.try_restart(at(3000ms)));
  BOOST_TEST(!ri.try_restart(at(9999ms)));
  BOOST_TEST(ri.total() == 3u);
}

BOOST_AUTO_TEST_CASE(restarts_older_than_the_period_no_longer_count) {
  restart_intensity ri{2, 10s};
  BOOST_TEST(ri.try_restart(at(0ms)));
  BOOST_TEST(ri.try_restart(at(4000ms)));
  BOOST_TEST(!ri.try_restart(at(8000ms)));
  // Exactly one period after the first: it has left the window.
  BOOST_TEST(ri.try_restart(at(10000ms)));
  // The window now holds 4 s and 10 s.
  BOOST_TEST(!ri.try_restart(at(13999ms)));
  BOOST_TEST(ri.try_restart(at(14000ms)));
  BOOST_TEST(ri.total() == 4u);
}

BOOST_AUTO_TEST_CASE(refused_restarts_do_not_extend_the_window) {
  restart_intensity ri{1, 5s};
  BOOST_TEST(ri.try_restart(at(0ms)));
  for (int ms = 100; ms < 5000; ms += 100)
    BOOST_TEST(!ri.try_restart(at(std::chrono::milliseconds{ms})));
  // Had the refusals been recorded, this would still be refused.
  BOOST_TEST(ri.try_restart(at(5000ms)));
  BOOST_TEST(ri.total() == 2u);
}

BOOST_AUTO_TEST_CASE(a_limit_of_zero_never_grants) {
  restart_intensity ri{0, 1s};
  BOOST_TEST(!ri.try_restart(at(0ms)));
  BOOST_TEST(!ri.try_restart(at(1000000ms)));
  BOOST_TEST(ri.total() == 0u);
}

BOOST_AUTO_TEST_CASE(a_steady_rate_below_the_limit_is_granted_forever) {
  // 3 restarts per 10 s; one every 4 s never has more than 3 in any 10 s window.
  restart_intensity ri{3, 10s};
  for (int i = 0; i < 1000; ++i)
    BOOST_TEST_REQUIRE(ri.try_restart(at(std::chrono::milliseconds{4000 * i})), "restart " << i);
  BOOST_TEST(ri.total() == 1000u);
}

BOOST_AUTO_TEST_CASE(a_burst_after_a_quiet_period_is_granted_up_to_the_limit_again) {
  restart_intensity ri{2, 1s};
  BOOST_TEST(ri.try_restart(at(0ms)));
  BOOST_TEST(ri.try_restart(at(10ms)));
  BOOST_TEST(!ri.try_restart(at(20ms)));
  BOOST_TEST(ri.try_restart(at(60000ms)));
  BOOST_TEST(ri.try_restart(at(60001ms)));
  BOOST_TEST(!ri.try_restart(at(60002ms)));
  BOOST_TEST(ri.total() == 4u);
}
