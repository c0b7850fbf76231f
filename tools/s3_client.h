// A minimal client of the S3 REST API, as `datasnap upload` needs it: PUT,
// GET, DELETE and ListObjectsV2 of one bucket, path-style URLs
// (ENDPOINT/BUCKET/KEY, which every S3-compatible server accepts), signed
// with AWS Signature Version 4 by libcurl itself (CURLOPT_AWS_SIGV4).
//
//   S3Client s3({.endpoint = "https://s3.eu-west-2.amazonaws.com",
//                .region = "eu-west-2", .bucket = "lists",
//                .access_key_id = ..., .secret_access_key = ...});
//   DS_CHECK(s3.Put("p/manifest.json", bytes, {{"Cache-Control", "no-cache"}}));
#ifndef DATASNAP_TOOLS_S3_CLIENT_H_
#define DATASNAP_TOOLS_S3_CLIENT_H_

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace datasnap {

struct S3Config {
  std::string endpoint;  // scheme://host[:port], no trailing slash
  std::string region = "us-east-1";
  std::string bucket;
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // optional (temporary credentials)
  long timeout_seconds = 300;
};

struct S3Object {
  std::string key;
  std::string last_modified;  // as listed: 2026-12-07T02:00:41.000Z
  long long size = 0;
};

// One attempt per call (the caller decides about retries). Errors are kIo
// for transport failures and error statuses, with the method, the key, the
// status and S3's <Code>/<Message> in the message.
class S3Client {
 public:
  explicit S3Client(S3Config config);

  Status Put(std::string_view key, std::string_view body,
             const std::vector<std::pair<std::string, std::string>>& headers);
  // The object's bytes, or nullopt when it does not exist (404).
  Result<std::optional<std::string>> Get(std::string_view key);
  Status Delete(std::string_view key);
  // Every object whose key starts with `prefix` (all pages).
  Result<std::vector<S3Object>> List(std::string_view prefix);

  const S3Config& config() const { return config_; }

 private:
  struct Response {
    long status = 0;
    std::string body;
  };
  Result<Response> Send(const char* method, const std::string& path_and_query,
                        std::string_view body,
                        const std::vector<std::pair<std::string, std::string>>&
                            headers);
  S3Config config_;
};

// The objects of a ListObjectsV2 response body, and its
// NextContinuationToken ("" on the last page). Exposed for tests.
Result<std::pair<std::vector<S3Object>, std::string>> ParseListObjects(
    std::string_view xml);

// Percent-encodes `s` as SigV4 wants (unreserved characters kept; '/'
// kept when `keep_slash`).
std::string S3UriEncode(std::string_view s, bool keep_slash);

}  // namespace datasnap

#endif  // DATASNAP_TOOLS_S3_CLIENT_H_
