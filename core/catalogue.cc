#include "core/catalogue.h"

#include <functional>
#include <map>
#include <set>
#include <utility>

#include "core/json_read.h"
#include "core/text.h"

namespace datasnap {
namespace {

constexpr std::int64_t kCatalogueFormat = 1;

using simdjson::dom::element;
using simdjson::dom::object;

std::unexpected<Error> Invalid(std::string message) {
  return Fail(ErrorCode::kInvalidArgument, std::move(message));
}

// Reads the fields every catalogue entry has. `path` is "datasets[3]"; the
// key is appended to it for later messages once known.
Status ReadCommon(json::ObjectReader& r, Dataset& d) {
  DS_TRY(key, r.String("key"));
  if (auto s = ValidateKey(*key); !s) {
    return Invalid(r.Where("key") + ": " + s.error().message);
  }
  d.key = std::move(*key);
  DS_TRY(name, r.String("name"));
  if (name->empty() || HasControlCharacter(*name) || FindInvalidUtf8(*name)) {
    return Invalid(r.Where("name") +
                   ": must be non-empty UTF-8 text without control characters");
  }
  d.name = std::move(*name);
  DS_TRY(description, r.OptionalString("description"));
  if (*description && FindInvalidUtf8(**description)) {
    return Invalid(r.Where("description") + ": is not valid UTF-8");
  }
  d.description = description->value_or("");
  DS_TRY(tags, r.StringArray("tags"));
  std::set<std::string_view> seen;
  for (const std::string& tag : *tags) {
    if (tag.empty() || HasControlCharacter(tag) || FindInvalidUtf8(tag)) {
      return Invalid(r.Where("tags") + ": tag \"" + tag +
                     "\" must be non-empty text without control characters");
    }
    if (!seen.insert(tag).second) {
      return Invalid(r.Where("tags") + ": tag \"" + tag + "\" is listed twice");
    }
  }
  d.tags = std::move(*tags);
  return {};
}

Result<std::int64_t> ReadBoundedInt(json::ObjectReader& r,
                                    std::string_view field, std::int64_t lo,
                                    std::int64_t hi) {
  DS_TRY(v, r.Int(field));
  if (*v < lo || *v > hi) {
    return Invalid(r.Where(field) + ": " + std::to_string(*v) +
                   " is out of range (" + std::to_string(lo) + " to " +
                   std::to_string(hi) + ")");
  }
  return *v;
}

// Parses the file's envelope and calls `read_entry` for each dataset, with
// a reader whose path already names the entry ("datasets[3]").
Result<std::vector<CatalogueEntry>> ParseFile(
    const CatalogueFile& file,
    const std::function<Result<CatalogueEntry>(json::ObjectReader&)>&
        read_entry) {
  simdjson::dom::parser parser;
  auto root = json::Parse(parser, file.bytes, file.name);
  // A catalogue is the user's input: a syntax error is kInvalidArgument.
  if (!root) return Invalid(root.error().message);
  object top;
  if (root->get(top)) {
    return Invalid(file.name + ": expected a JSON object with \"format\" and "
                   "\"datasets\", found " + std::string(json::TypeName(*root)));
  }
  json::ObjectReader envelope(top, file.name, "");
  DS_TRY(format, envelope.Int("format"));
  if (*format != kCatalogueFormat) {
    return Invalid(file.name + ": format " + std::to_string(*format) +
                   " is not supported (this datasnap reads format " +
                   std::to_string(kCatalogueFormat) + ")");
  }
  DS_TRY(source, envelope.OptionalString("source"));
  DS_TRY(datasets, envelope.Array("datasets"));
  DS_CHECK(envelope.RejectUnknownFields());
  std::vector<CatalogueEntry> entries;
  // Keys and aliases seen so far in this file, and the entry that used
  // each, so that a clash names both entries (Catalogue::Make checks again
  // across files).
  std::map<std::string, std::string, std::less<>> used_by;
  std::size_t i = 0;
  for (element item : *datasets) {
    std::string path = "datasets[" + std::to_string(i++) + "]";
    object o;
    if (item.get(o)) {
      return Invalid(file.name + ": " + path + ": expected an object, found " +
                     std::string(json::TypeName(item)));
    }
    // Name the entry by its key in every later message, when it has one:
    // "seeds/nhs_dd.json: datasets[3] (blood_group_baby): reference_url: ..."
    std::string_view key;
    if (!o.at_key("key").get(key)) path += " (" + std::string(key) + ")";
    json::ObjectReader r(o, file.name + ": " + path, "");
    DS_TRY(entry, read_entry(r));
    DS_CHECK(r.RejectUnknownFields());
    std::vector<std::pair<std::string_view, std::string_view>> names{
        {entry->dataset.key, "key"}};
    for (const std::string& alias : entry->dataset.aliases) {
      names.emplace_back(alias, "aliases");
    }
    for (auto [name, field] : names) {
      auto [it, inserted] = used_by.emplace(name, path);
      if (!inserted) {
        return Invalid(r.Where(field) + ": '" + std::string(name) +
                       "' is already used by " +
                       (it->second == path ? "this entry" : it->second) +
                       "; keys and aliases must be unique");
      }
    }
    entries.push_back(std::move(*entry));
  }
  if (entries.empty()) {
    return Invalid(file.name + ": datasets is empty");
  }
  return entries;
}

Result<FieldMapping> ReadMapping(json::ObjectReader& entry) {
  DS_TRY(object, entry.Object("mapping"));
  json::ObjectReader r(*object, entry.what(), "mapping");
  FieldMapping m;
  DS_TRY(code, r.String("code"));
  m.code = std::move(*code);
  DS_TRY(label, r.OptionalString("label"));
  m.label = label->value_or("");
  DS_TRY(fallback, r.OptionalString("fallback_label"));
  m.fallback_label = fallback->value_or("");

  DS_TRY(children, r.OptionalObject("children"));
  if (*children) {
    json::ObjectReader c(**children, entry.what(), r.path() + ".children");
    DS_TRY(field, c.String("field"));
    DS_TRY(child_code, c.String("code"));
    DS_TRY(child_label, c.String("label"));
    DS_CHECK(c.RejectUnknownFields());
    m.children = FieldMapping::Children{std::move(*field),
                                        std::move(*child_code),
                                        std::move(*child_label)};
  }

  DS_TRY(first, r.OptionalObject("from_first_object"));
  if (*first) {
    json::ObjectReader f(**first, entry.what(),
                         r.path() + ".from_first_object");
    DS_TRY(fields, f.StringArray("fields"));
    if (fields->empty()) return Invalid(f.Where("fields") + ": is empty");
    DS_TRY(first_code, f.String("code"));
    DS_TRY(first_label, f.String("label"));
    DS_CHECK(f.RejectUnknownFields());
    m.from_first_object = FieldMapping::FirstObject{
        std::move(*fields), std::move(*first_code), std::move(*first_label)};
  }
  DS_CHECK(r.RejectUnknownFields());

  if (m.code.empty()) return Invalid(r.Where("code") + ": is empty");
  if (m.label.empty() && m.fallback_label.empty()) {
    return Invalid(entry.Where("mapping") +
                   ": needs \"label\" or \"fallback_label\"");
  }
  return m;
}

Result<CatalogueEntry> ReadNhsDdEntry(json::ObjectReader& r) {
  CatalogueEntry e;
  Dataset& d = e.dataset;
  DS_CHECK(ReadCommon(r, d));
  d.category = Category::kNhsDd;
  d.source_type = SourceType::kScrape;
  DS_TRY(aliases, r.StringArray("aliases"));
  for (const std::string& alias : *aliases) {
    if (auto s = ValidateKey(alias); !s) {
      return Invalid(r.Where("aliases") + ": " + s.error().message);
    }
  }
  d.aliases = std::move(*aliases);
  DS_TRY(url, r.String("reference_url"));
  if (!IsHttpUrl(*url)) {
    return Invalid(r.Where("reference_url") + ": \"" + *url +
                   "\" is not an absolute http(s) URL");
  }
  d.reference_url = std::move(*url);
  DS_TRY(days, ReadBoundedInt(r, "refresh_interval_days", 1, 366));
  d.sync_frequency_hours = static_cast<std::int32_t>(*days * 24);
  return e;
}

Result<CatalogueEntry> ReadRcpchEntry(json::ObjectReader& r) {
  CatalogueEntry e;
  Dataset& d = e.dataset;
  DS_CHECK(ReadCommon(r, d));
  d.category = Category::kRcpch;
  d.source_type = SourceType::kApi;
  DS_TRY(endpoint, r.String("endpoint"));
  const bool plain_path =
      endpoint->size() > 1 && endpoint->front() == '/' &&
      endpoint->find("://") == std::string::npos &&
      endpoint->find_first_of(" \t\r\n?#") == std::string::npos;
  if (!plain_path) {
    return Invalid(r.Where("endpoint") + ": \"" + *endpoint +
                   "\" must be a path starting with '/' (no scheme, host, "
                   "query or spaces)");
  }
  d.api_endpoint = std::move(*endpoint);
  DS_TRY(hours, ReadBoundedInt(r, "sync_frequency_hours", 1, 24 * 366));
  d.sync_frequency_hours = static_cast<std::int32_t>(*hours);
  DS_TRY(mapping, ReadMapping(r));
  e.mapping = std::move(*mapping);
  return e;
}

}  // namespace

bool IsHttpUrl(std::string_view url) {
  std::string_view rest;
  if (url.starts_with("https://")) {
    rest = url.substr(8);
  } else if (url.starts_with("http://")) {
    rest = url.substr(7);
  } else {
    return false;
  }
  if (HasControlCharacter(url) || url.find(' ') != std::string_view::npos) {
    return false;
  }
  const std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty() || host.front() == ':' || host.find('@') != host.npos) {
    return false;
  }
  return true;
}

Result<Catalogue> Catalogue::Make(std::vector<CatalogueEntry> entries) {
  // Every key and alias must name exactly one entry.
  std::map<std::string, std::string, std::less<>> owner;  // name -> key
  for (const CatalogueEntry& e : entries) {
    const Dataset& d = e.dataset;
    std::vector<std::string> names{d.key};
    for (const std::string& alias : d.aliases) {
      if (auto s = ValidateKey(alias); !s) {
        return Invalid("catalogue: alias of '" + d.key + "': " +
                       s.error().message);
      }
      names.push_back(alias);
    }
    for (const std::string& name : names) {
      auto [it, inserted] = owner.emplace(name, d.key);
      if (!inserted) {
        const bool same = it->second == d.key;
        return Invalid("catalogue: '" + name + "' is used " +
                       (same ? "twice by '" + d.key + "'"
                             : "by both '" + it->second + "' and '" + d.key +
                                   "'") +
                       "; keys and aliases must be unique");
      }
    }
  }
  Catalogue c;
  c.entries_ = std::move(entries);
  return c;
}

const CatalogueEntry* Catalogue::Find(std::string_view key) const {
  for (const CatalogueEntry& e : entries_) {
    if (e.dataset.key == key) return &e;
  }
  for (const CatalogueEntry& e : entries_) {
    for (const std::string& alias : e.dataset.aliases) {
      if (alias == key) return &e;
    }
  }
  return nullptr;
}

Result<std::vector<CatalogueEntry>> ParseNhsDdCatalogue(
    const CatalogueFile& file) {
  return ParseFile(file, ReadNhsDdEntry);
}

Result<std::vector<CatalogueEntry>> ParseRcpchCatalogue(
    const CatalogueFile& file) {
  return ParseFile(file, ReadRcpchEntry);
}

Result<Catalogue> ParseCatalogue(const CatalogueFile& nhs_dd,
                                 const CatalogueFile& rcpch) {
  DS_TRY(nhs, ParseNhsDdCatalogue(nhs_dd));
  DS_TRY(api, ParseRcpchCatalogue(rcpch));
  std::vector<CatalogueEntry> all = std::move(*nhs);
  for (CatalogueEntry& e : *api) all.push_back(std::move(e));
  return Catalogue::Make(std::move(all));
}

}  // namespace datasnap
