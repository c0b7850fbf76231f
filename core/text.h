// Small text helpers shared by the parsers and the model.
#ifndef DATASNAP_CORE_TEXT_H_
#define DATASNAP_CORE_TEXT_H_

#include <cstddef>
#include <optional>
#include <string_view>

namespace datasnap {

// Returns the byte offset of the first invalid UTF-8 sequence in `text`
// (overlong forms, surrogates and code points above U+10FFFF are invalid),
// or nullopt when all of `text` is valid UTF-8.
std::optional<std::size_t> FindInvalidUtf8(std::string_view text);

// True when `text` contains a C0 control character or DEL.
bool HasControlCharacter(std::string_view text);

// True for ' ', '\t', '\n', '\r', '\v' and '\f'.
bool IsAsciiSpace(char c);

// `text` without the ASCII whitespace at either end.
std::string_view TrimAsciiSpace(std::string_view text);

}  // namespace datasnap

#endif  // DATASNAP_CORE_TEXT_H_
