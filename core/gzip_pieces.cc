#include "core/gzip_pieces.h"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/compression.h"

namespace datasnap {
namespace {

// Pieces are 64 KiB to 1 MiB, a cut every ~256 KiB past the minimum: large
// enough that deflate loses little by starting each afresh (its window is
// 32 KiB), small enough that one change recompresses a fortieth of a 9 MB
// manifest.
constexpr std::size_t kMinPiece = std::size_t{64} << 10;
constexpr std::size_t kMaxPiece = std::size_t{1} << 20;
// Top bits of the gear hash, which depend on the last 64 bytes.
constexpr std::uint64_t kCutMask = ~std::uint64_t{0} << (64 - 18);

// The extra field's subfield: "DS", then a format byte.
constexpr char kSubfieldId[2] = {'D', 'S'};
constexpr unsigned char kPiecesFormat = 1;

// A fixed pseudo-random value per byte (splitmix64 from a fixed seed): part
// of the format, as the cuts depend on it.
constexpr std::array<std::uint64_t, 256> MakeGear() {
  std::array<std::uint64_t, 256> gear{};
  std::uint64_t x = 0x64617461736e6170ULL;  // "datasnap"
  for (std::uint64_t& v : gear) {
    x += 0x9e3779b97f4a7c15ULL;
    std::uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    v = z ^ (z >> 31);
  }
  return gear;
}
constexpr std::array<std::uint64_t, 256> kGear = MakeGear();

// Where each piece of `data` ends.
std::vector<std::size_t> PieceEnds(std::string_view data) {
  std::vector<std::size_t> ends;
  std::size_t start = 0;
  while (start < data.size()) {
    const std::size_t limit = std::min(data.size(), start + kMaxPiece);
    std::size_t end = limit;
    if (limit - start > kMinPiece) {
      // The hash forgets a byte 64 steps on: starting 64 bytes before the
      // minimum gives the same cuts as hashing the whole piece.
      std::uint64_t h = 0;
      for (std::size_t i = start + kMinPiece - 64; i < limit; ++i) {
        h = (h << 1) + kGear[static_cast<unsigned char>(data[i])];
        if (i >= start + kMinPiece && (h & kCutMask) == 0) {
          end = i + 1;
          break;
        }
      }
    }
    ends.push_back(end);
    start = end;
  }
  return ends;
}

void PutVarint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out += static_cast<char>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  out += static_cast<char>(v);
}

bool GetVarint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto b = static_cast<unsigned char>(in[0]);
    in.remove_prefix(1);
    v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

void PutLe(std::string& out, std::uint64_t v, int bytes) {
  for (int b = 0; b < bytes; ++b) out += static_cast<char>((v >> (8 * b)) & 0xff);
}

std::uint64_t GetLe(std::string_view in, int bytes) {
  std::uint64_t v = 0;
  for (int b = bytes - 1; b >= 0; --b) v = (v << 8) | static_cast<unsigned char>(in[b]);
  return v;
}

std::uint32_t Crc32(std::string_view data) {
  return static_cast<std::uint32_t>(
      crc32(0L, reinterpret_cast<const Bytef*>(data.data()),
            static_cast<uInt>(data.size())));
}

struct Piece {
  std::uint64_t size = 0;      // uncompressed
  std::uint32_t crc = 0;       // of the uncompressed bytes
  std::string_view deflated;   // in the earlier member; `bytes` below when new
};

// What names the zlib and level that deflated the pieces: only pieces made
// the same way are what deflating again would give.
std::string Maker(int level) {
  return std::string(zlibVersion()) + " " + std::to_string(level);
}

// The pieces of an earlier member written by GzipCompressPieces at `level`
// with this zlib; empty for anything else.
std::vector<Piece> EarlierPieces(std::string_view member, int level) {
  // ID1 ID2 CM, FLG = FEXTRA only, MTIME, XFL, OS, XLEN.
  if (member.size() < 12 || member.substr(0, 4) != "\x1f\x8b\x08\x04") return {};
  const std::size_t xlen = GetLe(member.substr(10, 2), 2);
  if (member.size() < 12 + xlen) return {};
  std::string_view extra = member.substr(12, xlen);
  std::string_view payload;
  while (extra.size() >= 4) {
    const std::size_t len = GetLe(extra.substr(2, 2), 2);
    if (extra.size() < 4 + len) return {};
    if (extra[0] == kSubfieldId[0] && extra[1] == kSubfieldId[1]) {
      payload = extra.substr(4, len);
      break;
    }
    extra.remove_prefix(4 + len);
  }
  const std::string maker = Maker(level);
  if (payload.size() < 2 + maker.size() ||
      static_cast<unsigned char>(payload[0]) != kPiecesFormat ||
      payload.substr(2, static_cast<unsigned char>(payload[1])) != maker) {
    return {};
  }
  payload.remove_prefix(2 + maker.size());
  std::uint64_t count = 0;
  if (!GetVarint(payload, count)) return {};
  std::vector<Piece> pieces;
  std::size_t offset = 12 + xlen;
  const std::size_t end = member.size() >= 10 ? member.size() - 10 : 0;  // final block, trailer
  for (std::uint64_t i = 0; i < count; ++i) {
    Piece p;
    std::uint64_t deflated = 0;
    if (!GetVarint(payload, p.size) || !GetVarint(payload, deflated) ||
        payload.size() < 4 || deflated > end || offset > end - deflated) {
      return {};
    }
    p.crc = static_cast<std::uint32_t>(GetLe(payload, 4));
    payload.remove_prefix(4);
    p.deflated = member.substr(offset, deflated);
    offset += deflated;
    pieces.push_back(p);
  }
  return pieces;
}

// True when `deflated` is raw deflate data that decodes to exactly
// `expected` and stops at a byte-aligned block boundary before any final
// block: what a piece must be to be copied into another stream.
bool DecodesTo(std::string_view deflated, std::string_view expected) {
  z_stream strm{};
  if (inflateInit2(&strm, -15) != Z_OK) return false;
  std::string out(expected.size() + 1, '\0');
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(deflated.data()));
  strm.avail_in = static_cast<uInt>(deflated.size());
  strm.next_out = reinterpret_cast<Bytef*>(out.data());
  strm.avail_out = static_cast<uInt>(out.size());
  int rc = Z_OK;
  // Z_BLOCK stops at each block's end, where data_type tells whether that
  // was the last block and how many bits of the last byte are unused.
  while (rc == Z_OK && strm.avail_in > 0) rc = inflate(&strm, Z_BLOCK);
  const bool at_boundary = (strm.data_type & 128) != 0 &&
                           (strm.data_type & 64) == 0 &&
                           (strm.data_type & 7) == 0;
  const std::size_t produced = out.size() - strm.avail_out;
  inflateEnd(&strm);
  return rc == Z_OK && strm.avail_in == 0 && at_boundary &&
         produced == expected.size() &&
         std::memcmp(out.data(), expected.data(), produced) == 0;
}

// Raw deflate of one piece on its own, ended with a sync flush.
bool DeflatePiece(std::string_view in, int level, std::string& out) {
  z_stream strm{};
  if (deflateInit2(&strm, level, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) {
    return false;
  }
  out.resize(deflateBound(&strm, in.size()) + 16);
  strm.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  strm.avail_in = static_cast<uInt>(in.size());
  strm.next_out = reinterpret_cast<Bytef*>(out.data());
  strm.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&strm, Z_SYNC_FLUSH);
  // All input taken and room left over: the flush is complete.
  const bool ok = rc == Z_OK && strm.avail_in == 0 && strm.avail_out > 0;
  out.resize(out.size() - strm.avail_out);
  deflateEnd(&strm);
  return ok;
}

}  // namespace

Result<std::string> GzipCompressPieces(std::string_view data, int level,
                                       unsigned threads,
                                       std::string_view earlier,
                                       GzipPiecesStats* stats) {
  if (level < 1 || level > 9) {
    return Fail(ErrorCode::kInvalidArgument,
                "gzip level " + std::to_string(level) + " is outside 1-9");
  }
  GzipPiecesStats local;
  GzipPiecesStats& st = stats != nullptr ? *stats : local;
  st = {};
  if (data.size() <= kMaxPiece) {
    st.pieces = 1;
    return GzipCompress(data, level);
  }
  const std::vector<std::size_t> ends = PieceEnds(data);
  st.pieces = ends.size();

  // Earlier pieces by size and CRC-32; the first of equal ones.
  std::unordered_map<std::uint64_t, std::string_view> reusable;
  for (const Piece& p : EarlierPieces(earlier, level)) {
    reusable.try_emplace((p.size << 32) | p.crc, p.deflated);
  }

  std::vector<Piece> pieces(ends.size());
  std::vector<std::string> fresh(ends.size());
  std::vector<char> failed(ends.size(), 0), reused(ends.size(), 0);
  auto make_piece = [&](std::size_t i) {
    const std::size_t begin = i == 0 ? 0 : ends[i - 1];
    const std::string_view in = data.substr(begin, ends[i] - begin);
    Piece& p = pieces[i];
    p.size = in.size();
    p.crc = Crc32(in);
    auto it = reusable.find((p.size << 32) | p.crc);
    if (it != reusable.end() && DecodesTo(it->second, in)) {
      p.deflated = it->second;
      reused[i] = 1;
      return;
    }
    if (!DeflatePiece(in, level, fresh[i])) failed[i] = 1;
    p.deflated = fresh[i];
  };
  threads = std::max(1u, std::min<unsigned>(threads, static_cast<unsigned>(ends.size())));
  std::vector<std::thread> pool;
  for (unsigned t = 1; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (std::size_t i = t; i < ends.size(); i += threads) make_piece(i);
    });
  }
  for (std::size_t i = 0; i < ends.size(); i += threads) make_piece(i);
  for (std::thread& t : pool) t.join();
  if (std::find(failed.begin(), failed.end(), 1) != failed.end()) {
    return Fail(ErrorCode::kIo, "deflate failed on a piece of " +
                                    std::to_string(data.size()) + " bytes");
  }
  st.reused = static_cast<std::size_t>(std::count(reused.begin(), reused.end(), 1));

  // The extra field: format, maker, then each piece's sizes and CRC-32.
  std::string payload(1, static_cast<char>(kPiecesFormat));
  const std::string maker = Maker(level);
  payload += static_cast<char>(maker.size());
  payload += maker;
  PutVarint(payload, pieces.size());
  for (const Piece& p : pieces) {
    PutVarint(payload, p.size);
    PutVarint(payload, p.deflated.size());
    PutLe(payload, p.crc, 4);
  }
  // RFC 1952: no name, no time, XFL and OS as zlib writes them. A table
  // too large for the field (a document of several GB) is left out: the
  // member is as valid, only the next one cannot reuse its pieces.
  const bool with_table = payload.size() + 4 <= 0xffff;
  std::string member("\x1f\x8b\x08", 3);
  member += with_table ? '\x04' : '\x00';
  member.append(4, '\0');  // MTIME
  member += level == 9 ? '\x02' : (level == 1 ? '\x04' : '\x00');
  member += '\x03';
  if (with_table) {
    PutLe(member, payload.size() + 4, 2);
    member.append(kSubfieldId, 2);
    PutLe(member, payload.size(), 2);
    member += payload;
  }
  std::size_t total = member.size() + 10;
  for (const Piece& p : pieces) total += p.deflated.size();
  member.reserve(total);
  uLong crc = crc32(0L, Z_NULL, 0);
  for (const Piece& p : pieces) {
    member += p.deflated;
    crc = crc32_combine(crc, p.crc, static_cast<z_off_t>(p.size));
  }
  member.append("\x03\x00", 2);  // an empty final block (fixed Huffman)
  PutLe(member, crc, 4);
  PutLe(member, data.size() & 0xffffffffu, 4);  // ISIZE: the size mod 2^32
  return member;
}

}  // namespace datasnap
