// Recoverable errors as values: a Result<T> holds a T or an Error that keeps
// the reason and, for system calls, the errno. Exceptions are kept for
// programming errors and are caught in main.
#pragma once

#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace agentd {

// strerror's text for an errno value, from any thread: strerror itself may
// answer in a buffer that all threads share (POSIX leaves it unsafe), and
// the daemon has threads of its own (off-loop work, the metrics server).
inline std::string errno_text(int errno_value) { return std::generic_category().message(errno_value); }

struct Error {
  std::string message;
  int errno_value = 0;

  // The message, with strerror appended when the error came from the system.
  std::string describe() const {
    if (errno_value == 0) return message;
    return fmt::format("{}: {}", message, errno_text(errno_value));
  }
};

// An error from a failed system call: captures errno at the call site.
template <typename... Args>
Error system_error(fmt::format_string<Args...> format, Args&&... args) {
  int saved = errno;
  return Error{fmt::format(format, std::forward<Args>(args)...), saved};
}

template <typename... Args>
Error make_error(fmt::format_string<Args...> format, Args&&... args) {
  return Error{fmt::format(format, std::forward<Args>(args)...), 0};
}

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const { return std::get<Error>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success carries nothing.
struct Ok {};
using Status = Result<Ok>;
inline Status ok_status() { return Ok{}; }

}  // namespace agentd
