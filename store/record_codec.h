// Private to store/: the JSON values of the store's tables (docs/STORE.md)
// and the byte layout of its keys. These encodings are persistent: change
// them only together with kStoreSchemaVersion and docs/STORE.md.
#ifndef DATASNAP_STORE_RECORD_CODEC_H_
#define DATASNAP_STORE_RECORD_CODEC_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/model.h"
#include "store/store.h"

namespace datasnap::store_internal {

// versions table key: dataset key, 0x00, version as 4 big-endian bytes.
std::string VersionKey(std::string_view dataset, std::uint32_t version);
// The prefix shared by every version key of `dataset`.
std::string VersionPrefix(std::string_view dataset);
// The version number at the end of a versions key; nullopt if malformed.
std::optional<std::uint32_t> VersionOfKey(std::string_view key);

// audit table key: sequence number as 8 big-endian bytes.
std::string AuditKey(std::uint64_t seq);
std::optional<std::uint64_t> SeqOfAuditKey(std::string_view key);

std::string EncodeDataset(const DatasetRecord& record);
Result<DatasetRecord> DecodeDataset(std::string_view json);

// current table value: the current version as 4 big-endian bytes, then the
// 32-byte SHA-256 (binary) of its canonical options JSON.
inline constexpr std::size_t kCurrentValueBytes = 4 + 32;
// `sha256_hex` must be 64 lower-case hex characters.
std::string CurrentValue(std::uint32_t version, std::string_view sha256_hex);
// The version of a current value; nullopt if malformed.
std::optional<std::uint32_t> VersionOfCurrentValue(std::string_view value);

// The version record of schema 2: everything but the options, which live in
// the options table under the same key (the canonical JSON, stored once).
std::string EncodeVersion(const VersionRecord& record);
// Leaves `options` empty unless `with_options`. Schema 2 passes the options
// table's bytes as `options_json`; schema 1 records carry their options in
// an "options" field, read when `options_json` is nullopt. Checks that the
// options hash to the recorded SHA-256 when it reads them.
Result<VersionRecord> DecodeVersion(
    std::string_view json, bool with_options,
    std::optional<std::string_view> options_json = std::nullopt);

std::string EncodeValidators(const HttpValidators& v);
Result<HttpValidators> DecodeValidators(std::string_view json);

std::string EncodeAudit(const AuditEvent& e);
Result<AuditEvent> DecodeAudit(std::string_view json);

}  // namespace datasnap::store_internal

#endif  // DATASNAP_STORE_RECORD_CODEC_H_
