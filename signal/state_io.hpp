#pragma once

// Byte-wise snapshot and restore of a node's state: plain values appended in
// a fixed order, read back with bounds checks. Used off the audio thread only
// (snapshots allocate). Every stateful node writes its state through these
// two classes, so a checkpoint's layout has one definition.

#include <cstddef>
#include <cstring>
#include <initializer_list>
#include <span>
#include <type_traits>
#include <vector>

#include "signal/param_stream.hpp"

namespace loophole::signal {

class state_writer {
public:
  explicit state_writer(size_t reserve) { bytes_.reserve(reserve); }

  template <class T>
  void put(const T& x) {
    static_assert(std::is_trivially_copyable_v<T>);
    put_bytes(&x, sizeof x);
  }
  template <class T>
  void put_all(std::span<const T> xs) {
    static_assert(std::is_trivially_copyable_v<T>);
    put_bytes(xs.data(), xs.size_bytes());
  }
  template <class T>
  void put_all(const std::vector<T>& xs) {
    put_all(std::span<const T>(xs));
  }
  void put_bytes(const void* p, size_t n) {
    const auto* b = static_cast<const std::byte*>(p);
    bytes_.insert(bytes_.end(), b, b + n);
  }
  /// The state of parameter streams: a param_stream, or anything that holds
  /// several and answers state_bytes and snapshot_into (a stream_set).
  template <class Streams>
  void put_streams(const Streams& streams) {
    const size_t at = bytes_.size();
    bytes_.resize(at + streams.state_bytes());
    streams.snapshot_into(bytes_.data() + at);
  }
  void put_streams(std::initializer_list<const param_stream*> streams) {
    for (const auto* s : streams)
      put_streams(*s);
  }
  std::vector<std::byte> take() { return std::move(bytes_); }

private:
  std::vector<std::byte> bytes_;
};

/// Reads back what a state_writer wrote. A read past the end fails, and so
/// does every read after it (complete() then says false).
class state_reader {
public:
  explicit state_reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  template <class T>
  bool get(T& x) {
    static_assert(std::is_trivially_copyable_v<T>);
    return get_bytes(&x, sizeof x);
  }
  template <class T>
  bool get_all(std::span<T> xs) {
    static_assert(std::is_trivially_copyable_v<T>);
    return get_bytes(xs.data(), xs.size_bytes());
  }
  /// Fills `v` (already sized) from the state.
  template <class T>
  bool get_all(std::vector<T>& v) {
    return get_all(std::span<T>(v));
  }
  bool get_bytes(void* p, size_t n) {
    if (!ok_ || bytes_.size() - at_ < n)
      return ok_ = false;
    if (n != 0)
      std::memcpy(p, bytes_.data() + at_, n);
    at_ += n;
    return true;
  }
  template <class Streams>
  bool get_streams(Streams& streams) {
    const size_t n = streams.state_bytes();
    if (!ok_ || bytes_.size() - at_ < n || !streams.restore_from(bytes_.subspan(at_, n)))
      return ok_ = false;
    at_ += n;
    return true;
  }
  bool get_streams(std::initializer_list<param_stream*> streams) {
    for (auto* s : streams)
      if (!get_streams(*s))
        return false;
    return true;
  }
  /// Everything read, nothing left over.
  bool complete() const noexcept { return ok_ && at_ == bytes_.size(); }

private:
  std::span<const std::byte> bytes_;
  size_t at_ = 0;
  bool ok_ = true;
};

} // namespace loophole::signal
