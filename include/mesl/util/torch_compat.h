#pragma once
// What differs between the LibTorch versions mesl builds against (Debian's 1.13 and 2.x), in one place.
#include <variant>

#if __has_include(<c10/util/variant.h>)
#include <c10/util/variant.h>
#endif

namespace mesl::compat {

// Option variants (e.g. Conv2dOptions::padding_t) are c10::variant in LibTorch 1.13 and std::variant in 2.x.
template <typename T, typename... Ts>
const T* get_if(const std::variant<Ts...>* v) {
  return std::get_if<T>(v);
}
#if __has_include(<c10/util/variant.h>)
template <typename T, typename V>
const T* get_if(const V* v) {
  return c10::get_if<T>(v);
}
#endif

}  // namespace mesl::compat
