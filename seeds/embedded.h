// The catalogue files of seeds/, compiled in (see seeds/BUILD).
#ifndef DATASNAP_SEEDS_EMBEDDED_H_
#define DATASNAP_SEEDS_EMBEDDED_H_

#include <string_view>

namespace datasnap::seeds {

// The bytes of seeds/nhs_dd.json and seeds/rcpch.json as built.
std::string_view NhsDdJson();
std::string_view RcpchJson();

}  // namespace datasnap::seeds

#endif  // DATASNAP_SEEDS_EMBEDDED_H_
