#pragma once

// OTP's restart intensity: a supervisor may restart a child at most
// `max_restarts` times within any `period`; one more means the child is
// beyond saving and the supervisor escalates (fails itself, or gives up).
// Pure bookkeeping, no clock of its own, so tests drive it with any times.

#include <chrono>
#include <cstdint>
#include <deque>

namespace loophole::kernel {

class restart_intensity {
public:
  using clock = std::chrono::steady_clock;

  restart_intensity(uint32_t max_restarts, clock::duration period)
    : max_restarts_(max_restarts), period_(period) {}

  /// Records a restart at `now`; returns false when it exceeds the limit (the
  /// restart must not happen).
  bool try_restart(clock::time_point now) {
    while (!recent_.empty() && now - recent_.front() >= period_)
      recent_.pop_front();
    if (recent_.size() >= max_restarts_)
      return false;
    recent_.push_back(now);
    ++total_;
    return true;
  }

  /// Restarts granted since construction.
  uint32_t total() const noexcept { return total_; }

  uint32_t max_restarts() const noexcept { return max_restarts_; }
  clock::duration period() const noexcept { return period_; }

private:
  uint32_t max_restarts_;
  clock::duration period_;
  std::deque<clock::time_point> recent_;
  uint32_t total_ = 0;
};

} // namespace loophole::kernel
