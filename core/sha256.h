// SHA-256 through OpenSSL's libcrypto.
#ifndef DATASNAP_CORE_SHA256_H_
#define DATASNAP_CORE_SHA256_H_

#include <string>
#include <string_view>

namespace datasnap {

// Returns the 64-character lower-case hex SHA-256 digest of `data`.
std::string Sha256Hex(std::string_view data);

}  // namespace datasnap

#endif  // DATASNAP_CORE_SHA256_H_
