// The version of datasnap, for --version, published files and the
// User-Agent, and where the project lives.
#ifndef DATASNAP_CORE_VERSION_H_
#define DATASNAP_CORE_VERSION_H_

namespace datasnap {

inline constexpr const char kVersion[] = "0.1.0";

// Named in the default User-Agent so upstream operators can reach us.
inline constexpr const char kProjectUrl[] =
    "https://github.com/rcpch/datasnap";

}  // namespace datasnap

#endif  // DATASNAP_CORE_VERSION_H_
