#include "core/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <vector>

namespace datasnap {
namespace {

struct CctxFree {
  void operator()(ZSTD_CCtx* p) const { ZSTD_freeCCtx(p); }
};
struct DctxFree {
  void operator()(ZSTD_DCtx* p) const { ZSTD_freeDCtx(p); }
};

// The one place zstd's size_t error codes become messages.
std::unexpected<Error> ZstdError(std::string_view call, std::size_t rc,
                                 ErrorCode code) {
  return Fail(code, std::string(call) + " failed: " + ZSTD_getErrorName(rc));
}

constexpr int kMaxLevel = 19;  // the highest level whose window is <= 8 MiB

}  // namespace

Result<std::string> ZstdCompress(std::string_view data, int level) {
  // Levels above 19 use windows over 8 MiB, which HTTP clients may refuse.
  if (level < 1 || level > kMaxLevel) {
    return Fail(ErrorCode::kInvalidArgument,
                "zstd level " + std::to_string(level) + " is outside 1-19");
  }
  std::unique_ptr<ZSTD_CCtx, CctxFree> cctx(ZSTD_createCCtx());
  if (!cctx) return Fail(ErrorCode::kIo, "ZSTD_createCCtx failed: out of memory");
  const std::pair<ZSTD_cParameter, int> params[] = {
      {ZSTD_c_compressionLevel, level},
      {ZSTD_c_checksumFlag, 1},
      {ZSTD_c_contentSizeFlag, 1},
      {ZSTD_c_nbWorkers, 0},
  };
  for (auto [param, value] : params) {
    const std::size_t rc = ZSTD_CCtx_setParameter(cctx.get(), param, value);
    if (ZSTD_isError(rc)) {
      return ZstdError("ZSTD_CCtx_setParameter", rc, ErrorCode::kInvalidArgument);
    }
  }
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const std::size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(),
                                       data.data(), data.size());
  if (ZSTD_isError(n)) return ZstdError("ZSTD_compress2", n, ErrorCode::kIo);
  out.resize(n);
  return out;
}

Result<std::string> ZstdDecompress(std::string_view frame,
                                   std::size_t max_size) {
  const unsigned long long size =
      ZSTD_getFrameContentSize(frame.data(), frame.size());
  if (size == ZSTD_CONTENTSIZE_ERROR) {
    return Fail(ErrorCode::kCorrupt, "not a zstd frame");
  }
  if (size == ZSTD_CONTENTSIZE_UNKNOWN) {
    return Fail(ErrorCode::kCorrupt, "zstd frame does not record its size");
  }
  if (size > max_size) {
    return Fail(ErrorCode::kCorrupt,
                "zstd frame decodes to " + std::to_string(size) +
                    " bytes, over the limit of " + std::to_string(max_size));
  }
  std::unique_ptr<ZSTD_DCtx, DctxFree> dctx(ZSTD_createDCtx());
  if (!dctx) return Fail(ErrorCode::kIo, "ZSTD_createDCtx failed: out of memory");
  std::string out(size, '\0');
  const std::size_t n = ZSTD_decompressDCtx(dctx.get(), out.data(), out.size(),
                                            frame.data(), frame.size());
  if (ZSTD_isError(n)) return ZstdError("ZSTD_decompressDCtx", n, ErrorCode::kCorrupt);
  if (n != size) return Fail(ErrorCode::kCorrupt, "zstd frame is truncated");
  return out;
}

Result<std::string> GzipCompress(std::string_view data, int level) {
  if (level < 1 || level > 9) {
    return Fail(ErrorCode::kInvalidArgument,
                "gzip level " + std::to_string(level) + " is outside 1-9");
  }
  z_stream strm{};
  // windowBits 15 + 16 asks for a gzip wrapper; zlib writes a header with
  // no name and mtime 0.
  int rc = deflateInit2(&strm, level, Z_DEFLATED, 15 + 16, 9,
                        Z_DEFAULT_STRATEGY);
  if (rc != Z_OK) {
    return Fail(ErrorCode::kIo, "deflateInit2 failed: " + std::to_string(rc));
  }
  std::string out(deflateBound(&strm, data.size()), '\0');
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  strm.avail_in = static_cast<uInt>(data.size());
  strm.next_out = reinterpret_cast<Bytef*>(out.data());
  strm.avail_out = static_cast<uInt>(out.size());
  rc = deflate(&strm, Z_FINISH);
  const std::size_t n = out.size() - strm.avail_out;
  deflateEnd(&strm);
  if (rc != Z_STREAM_END) {
    return Fail(ErrorCode::kIo, "deflate failed: " + std::to_string(rc));
  }
  out.resize(n);
  return out;
}

Result<std::string> GzipDecompress(std::string_view member,
                                   std::size_t max_size) {
  z_stream strm{};
  if (inflateInit2(&strm, 15 + 16) != Z_OK) {
    return Fail(ErrorCode::kIo, "inflateInit2 failed");
  }
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(member.data()));
  strm.avail_in = static_cast<uInt>(member.size());
  std::string out;
  char buf[64 * 1024];
  int rc = Z_OK;
  while (rc == Z_OK) {
    strm.next_out = reinterpret_cast<Bytef*>(buf);
    strm.avail_out = sizeof buf;
    rc = inflate(&strm, Z_NO_FLUSH);
    out.append(buf, sizeof buf - strm.avail_out);
    if (out.size() > max_size) {
      inflateEnd(&strm);
      return Fail(ErrorCode::kCorrupt,
                  "gzip member decodes to more than " +
                      std::to_string(max_size) + " bytes");
    }
    if (rc == Z_BUF_ERROR && strm.avail_in == 0) break;  // input ran out
  }
  const bool trailing = strm.avail_in != 0;
  inflateEnd(&strm);
  if (rc != Z_STREAM_END) return Fail(ErrorCode::kCorrupt, "gzip member is damaged or truncated");
  if (trailing) return Fail(ErrorCode::kCorrupt, "bytes after the gzip member");
  return out;
}

}  // namespace datasnap
