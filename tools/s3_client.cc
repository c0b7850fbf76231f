#include "tools/s3_client.h"

#include <curl/curl.h>

#include <memory>

#include "core/sha256.h"

namespace datasnap {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

std::size_t Collect(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

// The text of the first <tag>...</tag> in `xml` at or after `from`, with
// the five predefined XML entities decoded; nullopt when absent. S3's
// responses are flat, namespace-free-in-practice documents of known
// elements: this is all the XML the client reads.
std::optional<std::string> Element(std::string_view xml, std::string_view tag,
                                   std::size_t from = 0,
                                   std::size_t* end = nullptr) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const std::size_t a = xml.find(open, from);
  if (a == std::string_view::npos) return std::nullopt;
  const std::size_t b = xml.find(close, a + open.size());
  if (b == std::string_view::npos) return std::nullopt;
  if (end) *end = b + close.size();
  std::string_view raw = xml.substr(a + open.size(), b - a - open.size());
  std::string text;
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '&') {
      text += raw[i];
      continue;
    }
    static constexpr std::pair<std::string_view, char> kEntities[] = {
        {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'},
        {"&apos;", '\''}};
    bool decoded = false;
    for (const auto& [entity, c] : kEntities) {
      if (raw.substr(i, entity.size()) == entity) {
        text += c;
        i += entity.size() - 1;
        decoded = true;
        break;
      }
    }
    if (!decoded) text += '&';
  }
  return text;
}

}  // namespace

std::string S3UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
        (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
        c == '~' || (c == '/' && keep_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Result<std::pair<std::vector<S3Object>, std::string>> ParseListObjects(
    std::string_view xml) {
  if (xml.find("<ListBucketResult") == std::string_view::npos) {
    return Fail(ErrorCode::kCorrupt,
                "the listing is not a ListBucketResult document");
  }
  std::vector<S3Object> objects;
  std::size_t at = 0, end = 0;
  while (auto contents = Element(xml, "Contents", at, &end)) {
    at = end;
    S3Object o;
    auto key = Element(*contents, "Key");
    if (!key) return Fail(ErrorCode::kCorrupt, "a listed object has no Key");
    o.key = *key;
    o.last_modified = Element(*contents, "LastModified").value_or("");
    const std::string size = Element(*contents, "Size").value_or("0");
    o.size = std::atoll(size.c_str());
    objects.push_back(std::move(o));
  }
  std::string next;
  if (Element(xml, "IsTruncated").value_or("false") == "true") {
    next = Element(xml, "NextContinuationToken").value_or("");
    if (next.empty()) {
      return Fail(ErrorCode::kCorrupt,
                  "a truncated listing has no NextContinuationToken");
    }
  }
  return std::pair{std::move(objects), std::move(next)};
}

S3Client::S3Client(S3Config config) : config_(std::move(config)) {}

Result<S3Client::Response> S3Client::Send(
    const char* method, const std::string& path_and_query,
    std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Fail(ErrorCode::kIo, "curl_easy_init failed");
  const std::string url = config_.endpoint + "/" +
                          S3UriEncode(config_.bucket, false) + path_and_query;
  const std::string sigv4 = "aws:amz:" + config_.region + ":s3";
  const std::string userpwd =
      config_.access_key_id + ":" + config_.secret_access_key;
  curl_slist* list = nullptr;
  // SigV4 signs the payload's hash; S3 wants it in this header too.
  list = curl_slist_append(
      list, ("x-amz-content-sha256: " + Sha256Hex(body)).c_str());
  if (!config_.session_token.empty()) {
    list = curl_slist_append(
        list, ("x-amz-security-token: " + config_.session_token).c_str());
  }
  for (const auto& [name, value] : headers) {
    list = curl_slist_append(list, (name + ": " + value).c_str());
  }
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip
  std::unique_ptr<curl_slist, SlistDeleter> header_list(list);

  Response response;
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, header_list.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, Collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, config_.timeout_seconds);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 30L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  const std::string m = method;
  if (m == "PUT") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(body.size()));
  } else if (m != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
  }
  const std::string what = m + " " + url;
  if (CURLcode rc = curl_easy_perform(c); rc != CURLE_OK) {
    return Fail(ErrorCode::kIo, what + ": " + curl_easy_strerror(rc));
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  if (response.status >= 300 && !(m == "GET" && response.status == 404)) {
    std::string detail = "HTTP " + std::to_string(response.status);
    if (auto code = Element(response.body, "Code")) detail += " " + *code;
    if (auto message = Element(response.body, "Message")) {
      detail += ": " + *message;
    }
    return Fail(ErrorCode::kIo, what + ": " + detail);
  }
  return response;
}

Status S3Client::Put(
    std::string_view key, std::string_view body,
    const std::vector<std::pair<std::string, std::string>>& headers) {
  DS_TRY(r, Send("PUT", "/" + S3UriEncode(key, true), body, headers));
  return {};
}

Result<std::optional<std::string>> S3Client::Get(std::string_view key) {
  DS_TRY(r, Send("GET", "/" + S3UriEncode(key, true), "", {}));
  if (r->status == 404) return std::optional<std::string>();
  return std::optional<std::string>(std::move(r->body));
}

Status S3Client::Delete(std::string_view key) {
  DS_TRY(r, Send("DELETE", "/" + S3UriEncode(key, true), "", {}));
  return {};
}

Result<std::vector<S3Object>> S3Client::List(std::string_view prefix) {
  std::vector<S3Object> all;
  std::string token;
  do {
    // Parameters in SigV4's canonical (sorted) order, already encoded.
    std::string query = "?";
    if (!token.empty()) {
      query += "continuation-token=" + S3UriEncode(token, false) + "&";
    }
    query += "list-type=2&prefix=" + S3UriEncode(prefix, false);
    DS_TRY(r, Send("GET", query, "", {}));
    if (r->status == 404) {
      return Fail(ErrorCode::kNotFound,
                  "bucket '" + config_.bucket + "' does not exist at " +
                      config_.endpoint);
    }
    DS_TRY(page, ParseListObjects(r->body));
    for (S3Object& o : page->first) all.push_back(std::move(o));
    token = std::move(page->second);
  } while (!token.empty());
  return all;
}

}  // namespace datasnap
