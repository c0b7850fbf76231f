// The version of datasnap, written into stores, published files and the
// User-Agent.
#ifndef DATASNAP_TOOLS_VERSION_H_
#define DATASNAP_TOOLS_VERSION_H_

namespace datasnap {

inline constexpr const char kVersion[] = "0.1.0";

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_VERSION_H_
