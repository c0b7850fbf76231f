// Errors as values at every module boundary.
//
//   Result<int> Parse(std::string_view s);
//   auto n = Parse("12");
//   if (!n) return std::unexpected(n.error());
//
// A message names the operation and its subject and, where the user can do
// something about it, what to do. Codes let callers branch without parsing
// text; they are never shown to users on their own.
#ifndef DATASNAP_CORE_ERROR_H_
#define DATASNAP_CORE_ERROR_H_

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace datasnap {

enum class ErrorCode {
  kInvalidArgument,  // the caller's input is wrong (bad key, bad file, ...)
  kNotFound,         // the thing asked for does not exist
  kAlreadyExists,
  kCorrupt,          // stored or received data does not decode
  kIo,               // the operating system or a library failed
  kBusy,             // another process holds what we need
  kMapFull,          // the LMDB map is full (the store grows and retries)
  kUnsupported,      // e.g. a store written by a newer datasnap
};

// The stable lower-case name of a code ("invalid_argument", ...).
std::string_view ErrorCodeName(ErrorCode code);

struct Error {
  ErrorCode code;
  std::string message;
};

template <typename T>
using Result = std::expected<T, Error>;

// The result of an operation that returns nothing on success.
using Status = std::expected<void, Error>;

// Shorthand for `return Fail(ErrorCode::kNotFound, "...")`.
inline std::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return std::unexpected(Error{code, std::move(message)});
}

// Prepends `context: ` to an error's message, keeping its code.
inline std::unexpected<Error> Wrap(const Error& error, std::string_view context) {
  return std::unexpected(
      Error{error.code, std::string(context) + ": " + error.message});
}

}  // namespace datasnap

// Inside a function returning Result<...> or Status:
//   DS_TRY(page, Fetch(url));   // declares `page`, returns early on error
//   DS_CHECK(store.Put(...));   // returns early on error
#define DS_TRY(var, expr) \
  auto var = (expr);      \
  if (!var) return std::unexpected(std::move(var.error()))

#define DS_CHECK(expr)                                             \
  do {                                                             \
    if (auto ds_status_ = (expr); !ds_status_)                     \
      return std::unexpected(std::move(ds_status_.error()));       \
  } while (0)

#endif  // DATASNAP_CORE_ERROR_H_
