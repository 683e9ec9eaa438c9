#pragma once

// CAF 0.17 inspects neither std::optional nor std::variant. This overload,
// declared in the project's namespaces, is found by argument-dependent lookup
// for optionals of the project's own types.

#include <optional>

namespace loophole::detail {

/// Inspects an optional as a presence flag followed by the value.
template <class Inspector, class T>
typename Inspector::result_type inspect_optional(Inspector& f, std::optional<T>& x) {
  bool present = x.has_value();
  T value = present ? *x : T{};
  if constexpr (Inspector::reads_state) {
    return f(present, value);
  } else {
    auto result = f(present, value);
    if (present)
      x = std::move(value);
    else
      x.reset();
    return result;
  }
}

} // namespace loophole::detail

#define LOOPHOLE_INSPECT_OPTIONALS_IN_THIS_NAMESPACE                                             \
  template <class Inspector, class T>                                                            \
  typename Inspector::result_type inspect(Inspector& f, std::optional<T>& x) {                  \
    return ::loophole::detail::inspect_optional(f, x);                                          \
  }
