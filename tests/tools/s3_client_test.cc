#include "tools/s3_client.h"

#include <catch2/catch.hpp>

namespace datasnap {
namespace {

TEST_CASE("S3UriEncode keeps unreserved characters and encodes the rest") {
  struct Case {
    const char* in;
    bool keep_slash;
    const char* out;
  };
  for (const Case& c :
       {Case{"datasets/a_b/1.0a.json.zst", true, "datasets/a_b/1.0a.json.zst"},
        Case{"p/q", false, "p%2Fq"}, Case{"a b+c", true, "a%20b%2Bc"},
        Case{"~-._", false, "~-._"}, Case{"\xc3\xa9", true, "%C3%A9"},
        Case{"", true, ""}}) {
    INFO(c.in);
    CHECK(S3UriEncode(c.in, c.keep_slash) == c.out);
  }
}

TEST_CASE("ParseListObjects reads keys, times, sizes and the next token") {
  const auto page = ParseListObjects(
      R"(<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>
<IsTruncated>true</IsTruncated><NextContinuationToken>1ue&amp;x</NextContinuationToken>
<Contents><Key>p/a&amp;b.json</Key><LastModified>2026-12-07T02:00:41.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>12</Size></Contents>
<Contents><Key>p/manifest.json</Key><LastModified>2026-12-07T02:00:42.000Z</LastModified><Size>3</Size></Contents>
</ListBucketResult>)");
  REQUIRE(page);
  REQUIRE(page->first.size() == 2);
  CHECK(page->first[0].key == "p/a&b.json");
  CHECK(page->first[0].last_modified == "2026-12-07T02:00:41.000Z");
  CHECK(page->first[0].size == 12);
  CHECK(page->first[1].key == "p/manifest.json");
  CHECK(page->second == "1ue&x");

  const auto last = ParseListObjects(
      "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>");
  REQUIRE(last);
  CHECK(last->first.empty());
  CHECK(last->second.empty());

  for (const char* bad :
       {"<Error><Code>AccessDenied</Code></Error>",
        "<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"}) {
    INFO(bad);
    CHECK_FALSE(ParseListObjects(bad));
  }
}

}  // namespace
}  // namespace datasnap
