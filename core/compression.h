// zstd and gzip compression with pinned, deterministic parameters.
//
// Frames are single-threaded and carry their content size and a checksum;
// levels stop at 19, whose window is at most 8 MiB (the limit of HTTP's zstd
// content coding). The same input and level give the same bytes with a
// given zstd version.
#ifndef DATASNAP_CORE_COMPRESSION_H_
#define DATASNAP_CORE_COMPRESSION_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"

namespace datasnap {

// Compresses `data` into one zstd frame at `level`, 1 to 19 (higher levels
// need windows over 8 MiB and are refused with kInvalidArgument).
Result<std::string> ZstdCompress(std::string_view data, int level);

// Decompresses one zstd frame. Fails (kCorrupt) on a damaged frame, and on
// one that would decode to more than `max_size` bytes.
Result<std::string> ZstdDecompress(std::string_view frame, std::size_t max_size);

// Compresses `data` into a gzip member (zlib, RFC 1952) at `level`, 1 to 9,
// with no file name and a zero modification time in the header, so the
// bytes depend on the input and level only.
Result<std::string> GzipCompress(std::string_view data, int level);

// Decompresses one gzip member. Fails (kCorrupt) on damaged or truncated
// input, and on input that would decode to more than `max_size` bytes.
Result<std::string> GzipDecompress(std::string_view member,
                                   std::size_t max_size);

}  // namespace datasnap

#endif  // DATASNAP_CORE_COMPRESSION_H_
