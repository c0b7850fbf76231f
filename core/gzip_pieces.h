// gzip for large documents that are written again and again with small
// changes (a 10,000-dataset manifest: 9 MB, rewritten by every export that
// changes anything), compressed on several cores, and reusing what an
// earlier member already compressed.
//
//   auto member = GzipCompressPieces(text, 6, /*threads=*/2, old_member);
//
// The input is cut into pieces at content-defined points (a rolling hash
// of the bytes, as FastCDC does, 64 KiB to 1 MiB apart), so a change in
// one place moves no cut elsewhere. Each piece is deflated on its own, with
// no dictionary, and ends on a byte boundary (a sync flush); an empty final
// block ends the stream. The result is one ordinary gzip member (RFC 1952)
// that any gzip reader decodes. Its header's extra field (FEXTRA, subfield
// "DS") lists each piece's sizes and CRC-32, with the zlib version and
// level that made them: an earlier member of the same zlib and level gives
// the pieces whose bytes recur, each checked by decoding it before it is
// copied.
//
// Deterministic: the bytes depend on the input, the level and the zlib
// version only, not on `threads` or on `earlier` (a reused piece is what
// deflating it again would give, as the zlib version and level match).
// Inputs of up to 1 MiB give exactly GzipCompress's bytes.
#ifndef DATASNAP_CORE_GZIP_PIECES_H_
#define DATASNAP_CORE_GZIP_PIECES_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "core/error.h"

namespace datasnap {

struct GzipPiecesStats {
  std::size_t pieces = 0;  // 1 for an input that GzipCompress took whole
  std::size_t reused = 0;  // copied from `earlier`
};

// `data` as a gzip member at `level` (1 to 9), deflated on up to `threads`
// threads; pieces of `earlier` (a member this function wrote; anything else
// is ignored) that decode to a piece of `data` are copied instead of
// deflated again. kInvalidArgument for a level outside 1-9.
Result<std::string> GzipCompressPieces(std::string_view data, int level,
                                       unsigned threads,
                                       std::string_view earlier = {},
                                       GzipPiecesStats* stats = nullptr);

}  // namespace datasnap

#endif  // DATASNAP_CORE_GZIP_PIECES_H_
