#include "core/compression.h"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <thread>
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

Result<std::string> GzipCompressParallel(std::string_view data, int level,
                                         unsigned threads) {
  constexpr std::size_t kChunk = std::size_t{1} << 20;
  constexpr std::size_t kWindow = std::size_t{1} << 15;  // deflate's 32 KiB
  if (data.size() <= kChunk) return GzipCompress(data, level);
  if (level < 1 || level > 9) {
    return Fail(ErrorCode::kInvalidArgument,
                "gzip level " + std::to_string(level) + " is outside 1-9");
  }
  const std::size_t chunks = (data.size() + kChunk - 1) / kChunk;
  std::vector<std::string> out(chunks);
  std::vector<int> status(chunks, Z_OK);
  // Raw deflate of chunk i, primed with the window before it; the last
  // chunk finishes the stream, the others end on a byte boundary.
  auto deflate_chunk = [&](std::size_t i) {
    const std::size_t begin = i * kChunk;
    const std::string_view in = data.substr(begin, kChunk);
    const bool last = i + 1 == chunks;
    z_stream strm{};
    int rc = deflateInit2(&strm, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) {
      status[i] = rc;
      return;
    }
    if (i > 0) {
      const std::size_t dict = std::min(kWindow, begin);
      rc = deflateSetDictionary(
          &strm, reinterpret_cast<const Bytef*>(data.data() + begin - dict),
          static_cast<uInt>(dict));
    }
    std::string& o = out[i];
    o.resize(deflateBound(&strm, in.size()) + 16);
    strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
    strm.avail_in = static_cast<uInt>(in.size());
    strm.next_out = reinterpret_cast<Bytef*>(o.data());
    strm.avail_out = static_cast<uInt>(o.size());
    if (rc == Z_OK) rc = deflate(&strm, last ? Z_FINISH : Z_SYNC_FLUSH);
    const bool ok = last ? rc == Z_STREAM_END : rc == Z_OK && strm.avail_in == 0;
    o.resize(o.size() - strm.avail_out);
    deflateEnd(&strm);
    status[i] = ok ? Z_OK : (rc == Z_OK ? Z_BUF_ERROR : rc);
  };
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(chunks)));
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t i = t; i < chunks; i += threads) deflate_chunk(i);
    });
  }
  for (std::thread& t : pool) t.join();
  for (int rc : status) {
    if (rc != Z_OK) {
      return Fail(ErrorCode::kIo, "deflate failed: " + std::to_string(rc));
    }
  }
  // RFC 1952: no name, no time, XFL 2 (best compression) and OS 3 (Unix),
  // as zlib writes them; then the deflate stream, the CRC-32 and the size.
  std::string member("\x1f\x8b\x08\x00\x00\x00\x00\x00", 8);
  member += level == 9 ? '\x02' : (level == 1 ? '\x04' : '\x00');
  member += '\x03';
  for (const std::string& o : out) member += o;
  uLong crc = crc32(0L, Z_NULL, 0);
  for (std::size_t done = 0; done < data.size();) {
    const std::size_t n = std::min<std::size_t>(data.size() - done, 1u << 30);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + done),
                static_cast<uInt>(n));
    done += n;
  }
  const std::uint32_t size = static_cast<std::uint32_t>(data.size());
  for (std::uint32_t v : {static_cast<std::uint32_t>(crc), size}) {
    for (int b = 0; b < 4; ++b) member += static_cast<char>((v >> (8 * b)) & 0xff);
  }
  return member;
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
