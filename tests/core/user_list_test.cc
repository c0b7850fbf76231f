#include "core/user_list.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "core/text.h"

namespace datasnap {
namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

constexpr auto kCsv = UserListFormat::kCsv;
constexpr auto kJson = UserListFormat::kJson;
constexpr auto kText = UserListFormat::kText;

// The file name each format's tests use, so messages read naturally.
std::string NameFor(UserListFormat f) {
  switch (f) {
    case UserListFormat::kCsv: return "codes.csv";
    case UserListFormat::kJson: return "codes.json";
    case UserListFormat::kText: return "codes.txt";
  }
  return "codes";
}

// "value|label" or "value|label<parent" per option, for readable failures.
std::vector<std::string> Describe(const OptionList& list) {
  std::vector<std::string> out;
  for (const Option& o : list.options()) {
    std::string s = o.value + "|" + o.label;
    if (o.parent) s += "<" + *o.parent;
    if (o.is_default) s += " (default)";
    out.push_back(std::move(s));
  }
  return out;
}

Result<OptionList> Parse(std::string_view bytes, UserListFormat f,
                         const UserListLimits& limits = {}) {
  return ParseUserList(bytes, f, NameFor(f), limits);
}

// The message of the error `bytes` must give.
std::string ErrorOf(std::string_view bytes, UserListFormat f,
                    const UserListLimits& limits = {}) {
  auto list = Parse(bytes, f, limits);
  if (list) {
    std::string got;
    for (const std::string& s : Describe(*list)) got += "\n  " + s;
    FAIL("expected an error, got a list:" << got);
  }
  CHECK(list.error().code == ErrorCode::kInvalidArgument);
  return list.error().message;
}

std::string Repeat(std::string_view s, std::size_t n) {
  std::string out;
  out.reserve(s.size() * n);
  for (std::size_t i = 0; i < n; ++i) out += s;
  return out;
}

// ---------------------------------------------------------------------------
// Format names

TEST_CASE("Format names round-trip and file names imply a format") {
  for (UserListFormat f : {kCsv, kJson, kText}) {
    CHECK(ParseUserListFormat(UserListFormatName(f)) == f);
  }
  CHECK(UserListFormatName(kCsv) == "csv");
  CHECK(UserListFormatName(kJson) == "json");
  CHECK(UserListFormatName(kText) == "text");
  CHECK_FALSE(ParseUserListFormat("CSV"));
  CHECK_FALSE(ParseUserListFormat("txt"));
  CHECK_FALSE(ParseUserListFormat(""));

  CHECK(UserListFormatForFile("codes.csv") == kCsv);
  CHECK(UserListFormatForFile("dir/Codes.CSV") == kCsv);
  CHECK(UserListFormatForFile("codes.json") == kJson);
  CHECK(UserListFormatForFile("/tmp/x.JSON") == kJson);
  CHECK(UserListFormatForFile("codes.txt") == kText);
  CHECK(UserListFormatForFile("codes") == kText);
  CHECK(UserListFormatForFile("codes.csv.bak") == kText);
  CHECK(UserListFormatForFile("data.csv/list") == kText);
  CHECK(UserListFormatForFile("") == kText);
}

// ---------------------------------------------------------------------------
// Accepted shapes

struct Accepted {
  const char* what;
  UserListFormat format;
  std::string input;
  std::vector<std::string> expected;
};

TEST_CASE("Every accepted shape gives the options in file order") {
  const std::string bom = "\xEF\xBB\xBF";
  const std::vector<Accepted> cases = {
      // CSV
      {"csv value,label", kCsv, "value,label\n01,Yes\n02,No\n",
       {"01|Yes", "02|No"}},
      {"csv code,label", kCsv, "code,label\n01,Yes\n02,No\n",
       {"01|Yes", "02|No"}},
      {"csv header is case-insensitive and trimmed", kCsv,
       " Value , LABEL \n01,Yes\n", {"01|Yes"}},
      {"csv columns in any order", kCsv, "label,code\nYes,01\nNo,02\n",
       {"01|Yes", "02|No"}},
      {"csv order is the file's, not sorted", kCsv,
       "value,label\nz,Last\na,First\nm,Middle\n",
       {"z|Last", "a|First", "m|Middle"}},
      {"csv parent column, forward references, empty parent", kCsv,
       "value,label,parent\nh1,Hospital 1,b1\nb1,Board 1,\nh2,Hospital 2, b1 \n",
       {"h1|Hospital 1<b1", "b1|Board 1", "h2|Hospital 2<b1"}},
      {"csv parent column first", kCsv,
       "PARENT,Code,Label\n,b,Board\nb,h,Hospital\n",
       {"b|Board", "h|Hospital<b"}},
      {"csv quoted fields with commas", kCsv,
       "value,label\n\"01\",\"Yes, definitely\"\n02,\"No, never, ever\"\n",
       {"01|Yes, definitely", "02|No, never, ever"}},
      {"csv doubled quotes", kCsv,
       "value,label\n01,\"Say \"\"hi\"\"\"\n\"0\"\"2\",x\n",
       {"01|Say \"hi\"", "0\"2|x"}},
      {"csv line breaks inside quotes are trimmed at the edges", kCsv,
       "value,label\n01,\"\nYes\n\"\n02,\"No\r\n\"\n", {"01|Yes", "02|No"}},
      {"csv quoted header", kCsv, "\"value\",\"label\"\n01,Yes\n",
       {"01|Yes"}},
      {"csv spaces around fields and quotes are trimmed", kCsv,
       "value,label\n  01  ,   Yes  \n 02 , \"  No \"  \n",
       {"01|Yes", "02|No"}},
      {"csv blank and whitespace-only lines skipped", kCsv,
       "\n\nvalue,label\n\n01,Yes\n   \n\t\n02,No\n\n", {"01|Yes", "02|No"}},
      {"csv CRLF", kCsv, "value,label\r\n01,Yes\r\n02,No\r\n",
       {"01|Yes", "02|No"}},
      {"csv no final line break", kCsv, "value,label\n01,Yes\n02,No",
       {"01|Yes", "02|No"}},
      {"csv final CR", kCsv, "value,label\r\n01,Yes\r", {"01|Yes"}},
      {"csv BOM", kCsv, bom + "value,label\n01,Yes\n", {"01|Yes"}},
      {"csv BOM and CRLF", kCsv, bom + "code,label\r\n01,Yes\r\n",
       {"01|Yes"}},
      {"csv unicode", kCsv,
       "value,label\nfr,Caf\xC3\xA9\nja,\xE6\x97\xA5\xE6\x9C\xAC\nsmile,"
       "\xF0\x9F\x98\x80\n\xC3\xA9,\xC2\xA0kept NBSP\n",
       {"fr|Caf\xC3\xA9", "ja|\xE6\x97\xA5\xE6\x9C\xAC",
        "smile|\xF0\x9F\x98\x80", "\xC3\xA9|\xC2\xA0kept NBSP"}},
      {"csv one column of a single blank quoted field is a blank line", kCsv,
       "value,label\n\"\"\n01,Yes\n", {"01|Yes"}},
      {"csv labels may hold ' - '", kCsv,
       "value,label\n01,A - B\n", {"01|A - B"}},

      // JSON
      {"json array of objects", kJson,
       R"([{"value":"01","label":"Yes"},{"label":"No","value":"02"}])",
       {"01|Yes", "02|No"}},
      {"json objects with parents (forward, null)", kJson,
       R"([{"value":"h1","label":"H","parent":"b1"},
           {"value":"b1","label":"B","parent":null},
           {"value":"h2","label":"H2","parent":" b1 "},
           {"value":"x","label":"X","parent":""}])",
       {"h1|H<b1", "b1|B", "h2|H2<b1", "x|X"}},
      {"json object form keeps document order", kJson,
       R"({"Z":"Zulu","A":"Alpha","M":"Mike"})",
       {"Z|Zulu", "A|Alpha", "M|Mike"}},
      {"json array of strings", kJson, R"(["Red", "Green", "Blue"])",
       {"Red|Red", "Green|Green", "Blue|Blue"}},
      {"json values and labels trimmed", kJson,
       R"([{"value":" 01 ","label":"  Yes\n"}])", {"01|Yes"}},
      {"json unicode escapes and raw UTF-8", kJson,
       "{\"e\":\"caf\\u00e9\",\"s\":\"\\ud83d\\ude00\",\"j\":\"\xE6\x97\xA5\"}",
       {"e|caf\xC3\xA9", "s|\xF0\x9F\x98\x80", "j|\xE6\x97\xA5"}},
      {"json BOM", kJson, bom + R"(["a"])", {"a|a"}},
      {"json CRLF whitespace", kJson, "[\r\n  \"a\",\r\n  \"b\"\r\n]\r\n",
       {"a|a", "b|b"}},

      // Text
      {"text CODE - Label", kText, "01 - Yes\n02 - No\n",
       {"01|Yes", "02|No"}},
      {"text plain values numbered", kText, "Red\nGreen\nBlue\n",
       {"001|Red", "002|Green", "003|Blue"}},
      {"text split on the first ' - '", kText, "A - B - C\nD - E\n",
       {"A|B - C", "D|E"}},
      {"text trims, drops blanks", kText,
       "\n  01   -   Yes  \n\n\t\n 02 - No\n\n", {"01|Yes", "02|No"}},
      {"text hyphens without spaces are plain", kText,
       "- leading\nin-between\ntrailing -\n",
       {"001|- leading", "002|in-between", "003|trailing -"}},
      {"text CRLF", kText, "01 - Yes\r\n02 - No\r\n", {"01|Yes", "02|No"}},
      {"text BOM", kText, bom + "Red\nGreen", {"001|Red", "002|Green"}},
      {"text unicode", kText, "\xC3\xA9 - caf\xC3\xA9\n",
       {"\xC3\xA9|caf\xC3\xA9"}},
  };
  for (const Accepted& c : cases) {
    INFO(c.what);
    auto list = Parse(c.input, c.format);
    if (!list) FAIL(list.error().message);
    CHECK(Describe(*list) == c.expected);
  }
}

TEST_CASE("Text plain values are numbered 001 ... 999, then 1000") {
  std::string input;
  for (int i = 1; i <= 1001; ++i) input += "Item " + std::to_string(i) + "\n";
  auto list = Parse(input, kText);
  REQUIRE(list);
  REQUIRE(list->size() == 1001);
  CHECK(list->options()[0].value == "001");
  CHECK(list->options()[9].value == "010");
  CHECK(list->options()[98].value == "099");
  CHECK(list->options()[998].value == "999");
  CHECK(list->options()[999].value == "1000");
  CHECK(list->options()[1000].value == "1001");
  CHECK(list->options()[999].label == "Item 1000");
}

// ---------------------------------------------------------------------------
// Errors

struct Refused {
  const char* what;
  UserListFormat format;
  std::string input;
  std::string message;  // the exact message
};

TEST_CASE("Every bad input is a kInvalidArgument error naming the place") {
  const std::string bom = "\xEF\xBB\xBF";
  const std::vector<Refused> cases = {
      // Empty inputs, every format.
      {"csv empty", kCsv, "", "codes.csv: no options (the file is empty)"},
      {"csv only a BOM", kCsv, bom, "codes.csv: no options (the file is empty)"},
      {"csv blank lines", kCsv, "\n  \r\n\t\n",
       "codes.csv: no options (the file has only blank lines)"},
      {"csv only a header", kCsv, "value,label\n",
       "codes.csv: no options (the file has only a header row)"},
      {"csv a header and blank lines", kCsv, "value,label\r\n\r\n  \r\n",
       "codes.csv: no options (the file has only a header row)"},
      {"csv only blank quoted fields", kCsv, "\"\"\n\"  \"\n",
       "codes.csv: no options (the file has only blank lines)"},
      {"json empty", kJson, "", "codes.json: no options (the file is empty)"},
      {"json blank", kJson, " \n ",
       "codes.json: no options (the file has only blank lines)"},
      {"json empty array", kJson, "[]",
       "codes.json: no options (the array is empty)"},
      {"json empty object", kJson, " {} ",
       "codes.json: no options (the object is empty)"},
      {"text empty", kText, "", "codes.txt: no options (the file is empty)"},
      {"text blank lines", kText, "\n\n   \n",
       "codes.txt: no options (the file has only blank lines)"},

      // Invalid UTF-8 (checked before parsing, with line and offsets).
      {"csv invalid UTF-8", kCsv, "value,label\n01,Ye\xFFs\n",
       "codes.csv: line 2: invalid UTF-8 at byte 6 of the line (file offset "
       "17)"},
      {"csv overlong encoding", kCsv, "value,label\n01,Yes\n02,\xC0\xAF\n",
       "codes.csv: line 3: invalid UTF-8 at byte 4 of the line (file offset "
       "22)"},
      {"csv truncated sequence at the end", kCsv, "value,label\n01,Ye\xE6\x97",
       "codes.csv: line 2: invalid UTF-8 at byte 6 of the line (file offset "
       "17)"},
      {"json invalid UTF-8", kJson, "[\"a\",\n\"b\xED\xA0\x80\"]",
       "codes.json: line 2: invalid UTF-8 at byte 3 of the line (file offset "
       "8)"},
      {"text invalid UTF-8", kText, "01 - Yes\n\n02 - N\x80o\n",
       "codes.txt: line 3: invalid UTF-8 at byte 7 of the line (file offset "
       "16)"},

      // Empty values and labels.
      {"csv empty value", kCsv, "value,label\n01,Yes\n  ,No\n",
       "codes.csv: line 3: empty value"},
      {"csv empty label", kCsv, "value,label\n01,\"  \"\n",
       "codes.csv: line 2: empty label"},
      {"json empty label", kJson,
       R"([{"value":"a","label":"A"},{"value":"b","label":"B"},
           {"value":"c","label":"C"},{"value":"d","label":" "}])",
       "codes.json: [3].label: empty label"},
      {"json empty value", kJson, R"([{"value":"","label":"A"}])",
       "codes.json: [0].value: empty value"},
      {"json empty string", kJson, R"(["a", "  "])",
       "codes.json: [1]: empty value"},
      {"json empty key", kJson, R"({"a":"A","":"B"})",
       "codes.json: [\"\"]: empty value"},
      {"json empty label in the object form", kJson, R"({"a":""})",
       "codes.json: [\"a\"]: empty label"},

      // Duplicates name both places.
      {"csv duplicate value", kCsv, "value,label\n01,Yes\n02,No\n01,Maybe\n",
       "codes.csv: line 4: duplicate value '01' (first on line 2)"},
      {"csv duplicate after trimming", kCsv, "code,label\n 01,Yes\n\"01 \",No\n",
       "codes.csv: line 3: duplicate value '01' (first on line 2)"},
      {"csv line numbers count blank lines and multi-line records", kCsv,
       "\nvalue,label\n\n01,\"\nYes\n\"\n\n02,No\n01,Again\n",
       "codes.csv: line 9: duplicate value '01' (first on line 4)"},
      {"json duplicate value", kJson,
       R"([{"value":"a","label":"A"},{"value":"b","label":"B"},
           {"value":"a","label":"C"}])",
       "codes.json: [2].value: duplicate value 'a' (first at [0].value)"},
      {"json duplicate string", kJson, R"(["x","y","x"])",
       "codes.json: [2]: duplicate value 'x' (first at [0])"},
      {"json duplicate key", kJson, R"({"01":"Yes","02":"No","01":"Maybe"})",
       "codes.json: [\"01\"]: duplicate key '01' (members 1 and 3 of the "
       "object)"},
      {"text duplicate code", kText, "01 - Yes\n\n01 - No\n",
       "codes.txt: line 3: duplicate value '01' (first on line 1)"},

      // Control characters.
      {"csv control character in a label", kCsv, "value,label\n01,Y\x01" "es\n",
       "codes.csv: line 2: label has a control character (U+0001)"},
      {"csv tab inside a label", kCsv, "value,label\n01,a\tb\n",
       "codes.csv: line 2: label has a control character (U+0009)"},
      {"csv NUL in a value", kCsv, std::string("value,label\n0\0" "1,x\n", 18),
       "codes.csv: line 2: value has a control character (U+0000)"},
      {"csv DEL", kCsv, "value,label\n01,a\x7F\n",
       "codes.csv: line 2: label has a control character (U+007F)"},
      {"csv C1 control", kCsv, "value,label\n01,a\xC2\x85z\n",
       "codes.csv: line 2: label has a control character (U+0085)"},
      {"csv line break inside a quoted label", kCsv,
       "value,label\n01,\"two\nlines\"\n",
       "codes.csv: line 2: label has a control character (U+000A)"},
      {"csv control character in a parent", kCsv,
       "value,label,parent\n01,a,b\x02\n",
       "codes.csv: line 2: parent has a control character (U+0002)"},
      {"json escaped control character", kJson, R"(["a\u0001b"])",
       "codes.json: [0]: value has a control character (U+0001)"},
      {"json escaped line break in a label", kJson,
       R"([{"value":"a","label":"x\ny"}])",
       "codes.json: [0].label: label has a control character (U+000A)"},
      {"json control character in a key", kJson, R"({"a\u0007":"x"})",
       "codes.json: [\"a\\u0007\"]: value has a control character (U+0007)"},
      {"text control character", kText, "01 - Yes\n02 - N\x1Bo\n",
       "codes.txt: line 2: label has a control character (U+001B)"},
      {"text control character in a code", kText, "0\x01 - Yes\n",
       "codes.txt: line 1: value has a control character (U+0001)"},

      // Line endings.
      {"csv lone CR", kCsv, "value,label\r01,Yes\r02,No",
       "codes.csv: line 1: a carriage return not followed by a line feed "
       "(save the file with LF or CRLF line endings)"},
      {"text lone CR", kText, "Red\nGreen\rBlue\n",
       "codes.txt: line 2: a carriage return not followed by a line feed "
       "(save the file with LF or CRLF line endings)"},

      // Parents.
      {"csv unknown parent", kCsv, "value,label,parent\n01,A,\n02,B,99\n",
       "codes.csv: line 3: unknown parent '99' (no option of the list has "
       "that value)"},
      {"csv self parent", kCsv, "value,label,parent\n01,A,01\n",
       "codes.csv: line 2: option '01' names itself as its parent"},
      {"json unknown parent", kJson,
       R"([{"value":"a","label":"A"},{"value":"b","label":"B","parent":"zz"}])",
       "codes.json: [1].parent: unknown parent 'zz' (no option of the list "
       "has that value)"},
      {"json self parent", kJson,
       R"([{"value":"a","label":"A","parent":"a"}])",
       "codes.json: [0].parent: option 'a' names itself as its parent"},

      // CSV header and shape.
      {"csv unknown column", kCsv, "value,lable\n01,Yes\n",
       "codes.csv: line 1: unknown column 'lable' in the header (accepted: "
       "value or code, label, and optionally parent; the first row must be a "
       "header)"},
      {"csv no header row", kCsv, "01,Yes\n02,No\n",
       "codes.csv: line 1: unknown column '01' in the header (accepted: value "
       "or code, label, and optionally parent; the first row must be a "
       "header)"},
      {"csv extra column", kCsv, "value,label,colour\n01,Yes,red\n",
       "codes.csv: line 1: unknown column 'colour' in the header (accepted: "
       "value or code, label, and optionally parent; the first row must be a "
       "header)"},
      {"csv no label column", kCsv, "value,parent\n01,\n",
       "codes.csv: line 1: the header has no 'label' column (accepted: value "
       "or code, label, and optionally parent)"},
      {"csv no value column", kCsv, "\n\nlabel\nYes\n",
       "codes.csv: line 3: the header has no 'value' (or 'code') column "
       "(accepted: value or code, label, and optionally parent)"},
      {"csv both value and code", kCsv, "value,code,label\n",
       "codes.csv: line 1: columns 1 and 2 of the header are both 'value' or "
       "'code'"},
      {"csv label twice", kCsv, "label,value,Label\n",
       "codes.csv: line 1: columns 1 and 3 of the header are both 'label'"},
      {"csv unnamed column", kCsv, "value,,label\n",
       "codes.csv: line 1: column 2 of the header has no name (accepted: "
       "value or code, label, and optionally parent)"},
      {"csv too many fields", kCsv, "value,label\n01,Yes\n02,No,extra\n",
       "codes.csv: line 3: 3 fields, but the header has 2"},
      {"csv trailing comma", kCsv, "value,label\n01,Yes,\n",
       "codes.csv: line 2: 3 fields, but the header has 2"},
      {"csv too few fields", kCsv, "value,label,parent\n01,Yes,\n02\n",
       "codes.csv: line 3: 1 field, but the header has 3"},

      // CSV syntax (libcsv strict mode).
      {"csv stray quote", kCsv, "value,label\n01,Ye\"s\n",
       "codes.csv: line 2: CSV syntax error at byte 6 of the line: a stray "
       "quote (quote the whole field and double the quotes inside it: \"say "
       "\"\"hi\"\"\") (libcsv: error parsing data while strict checking "
       "enabled)"},
      {"csv text after a closing quote", kCsv,
       "value,label\n01,Yes\n02,\"No\"pe\n",
       "codes.csv: line 3: CSV syntax error at byte 8 of the line: text after "
       "a closing quote (libcsv: error parsing data while strict checking "
       "enabled)"},
      {"csv syntax error on line 1 after a BOM counts the BOM", kCsv,
       bom + "val\"ue,label\n",
       "codes.csv: line 1: CSV syntax error at byte 7 of the line: a stray "
       "quote (quote the whole field and double the quotes inside it: \"say "
       "\"\"hi\"\"\") (libcsv: error parsing data while strict checking "
       "enabled)"},
      {"csv unclosed quote", kCsv, "value,label\n01,Yes\n\n02,\"No\n03,x\n",
       "codes.csv: line 4: a quoted field of the record starting here is "
       "never closed (libcsv: error parsing data while strict checking "
       "enabled)"},

      // JSON shapes.
      {"json not JSON", kJson, "[\"a\",",
       "codes.json: not valid JSON (The JSON document has an improper "
       "structure: missing or superfluous commas, braces, missing keys, "
       "etc.)"},
      {"json a number", kJson, "42",
       "codes.json: expected an array or an object at the top level, found a "
       "number"},
      {"json a string", kJson, "\"Yes\"",
       "codes.json: expected an array or an object at the top level, found a "
       "string"},
      {"json null", kJson, "null",
       "codes.json: expected an array or an object at the top level, found "
       "null"},
      {"json array of numbers", kJson, "[1, 2]",
       "codes.json: [0]: expected an object or a string, found a number (the "
       "list is an array of {\"value\", \"label\"} objects or of strings)"},
      {"json nested arrays", kJson, R"([["a","A"]])",
       "codes.json: [0]: expected an object or a string, found an array (the "
       "list is an array of {\"value\", \"label\"} objects or of strings)"},
      {"json strings then an object", kJson,
       R"(["a", "b", {"value":"c","label":"C"}])",
       "codes.json: [2]: expected a string like [0], found an object"},
      {"json objects then a string", kJson,
       R"([{"value":"c","label":"C"}, "a"])",
       "codes.json: [1]: expected an object like [0], found a string"},
      {"json strings then a number", kJson, R"(["a", 2])",
       "codes.json: [1]: expected a string like [0], found a number"},
      {"json number as a value", kJson, R"([{"value":1,"label":"One"}])",
       "codes.json: [0].value: value must be a string, found a number"},
      {"json null label", kJson, R"([{"value":"1","label":null}])",
       "codes.json: [0].label: label must be a string, found null"},
      {"json number parent", kJson,
       R"([{"value":"1","label":"One","parent":2}])",
       "codes.json: [0].parent: parent must be a string, found a number (or "
       "null)"},
      {"json unknown field", kJson,
       R"([{"value":"a","label":"A","colour":"red"}])",
       "codes.json: [0]: unknown field 'colour' (accepted: value, label, "
       "parent)"},
      {"json missing label", kJson, R"([{"value":"a"}])",
       "codes.json: [0].label: label is missing"},
      {"json missing value", kJson,
       R"([{"value":"a","label":"A"},{"label":"B"}])",
       "codes.json: [1].value: value is missing"},
      {"json field twice", kJson, R"([{"value":"a","label":"A","value":"b"}])",
       "codes.json: [0].value: the field appears twice"},
      {"json number label in the object form", kJson, R"({"01":1})",
       "codes.json: [\"01\"]: label must be a string, found a number"},
      {"json object label in the object form", kJson, R"({"01":{"x":"y"}})",
       "codes.json: [\"01\"]: label must be a string, found an object"},

      // Text grammar.
      {"text pairs then plain", kText, "01 - Yes\nMaybe\n",
       "codes.txt: line 2: mixed formats: line 1 is 'CODE - Label' but line 2 "
       "is a plain value; use one style for every line"},
      {"text plain then pairs", kText, "Maybe\n\n01 - Yes\n",
       "codes.txt: line 3: mixed formats: line 3 is 'CODE - Label' but line 1 "
       "is a plain value; use one style for every line"},
  };
  for (const Refused& c : cases) {
    INFO(c.what);
    CHECK_THAT(ErrorOf(c.input, c.format), Equals(c.message));
  }
}

TEST_CASE("A BOM is skipped but still counted in file offsets") {
  CHECK_THAT(ErrorOf("\xEF\xBB\xBFvalue,label\n01,\xFF\n", kCsv),
             Equals("codes.csv: line 2: invalid UTF-8 at byte 4 of the line "
                    "(file offset 18)"));
}

// ---------------------------------------------------------------------------
// Limits

TEST_CASE("100,000 options are accepted and 100,001 refused") {
  constexpr std::size_t kMax = 100'000;
  auto csv = [](std::size_t n) {
    std::string s = "value,label\n";
    for (std::size_t i = 1; i <= n; ++i) {
      s += "c" + std::to_string(i) + ",Option " + std::to_string(i) + "\n";
    }
    return s;
  };
  auto json = [](std::size_t n) {
    std::string s = "[";
    for (std::size_t i = 1; i <= n; ++i) {
      s += (i > 1 ? ",\"o" : "\"o") + std::to_string(i) + "\"";
    }
    return s + "]";
  };
  auto text = [](std::size_t n) {
    std::string s;
    for (std::size_t i = 1; i <= n; ++i) s += "Option " + std::to_string(i) + "\n";
    return s;
  };

  SECTION("csv") {
    auto ok = Parse(csv(kMax), kCsv);
    REQUIRE(ok);
    CHECK(ok->size() == kMax);
    CHECK(ok->options().back().value == "c100000");
    CHECK_THAT(ErrorOf(csv(kMax + 1), kCsv),
               Equals("codes.csv: line 100002: too many options (the limit "
                      "is 100000)"));
  }
  SECTION("json") {
    auto ok = Parse(json(kMax), kJson);
    REQUIRE(ok);
    CHECK(ok->size() == kMax);
    CHECK_THAT(ErrorOf(json(kMax + 1), kJson),
               Equals("codes.json: [100000]: too many options (the limit is "
                      "100000)"));
  }
  SECTION("text") {
    auto ok = Parse(text(kMax), kText);
    REQUIRE(ok);
    CHECK(ok->size() == kMax);
    CHECK(ok->options().back().value == "100000");
    CHECK_THAT(ErrorOf(text(kMax + 1), kText),
               Equals("codes.txt: line 100001: too many options (the limit "
                      "is 100000)"));
  }
  SECTION("a smaller limit") {
    UserListLimits limits;
    limits.max_options = 2;
    CHECK(Parse("a - A\nb - B\n", kText, limits));
    CHECK_THAT(ErrorOf("a - A\nb - B\n\nc - C\n", kText, limits),
               Equals("codes.txt: line 4: too many options (the limit is 2)"));
    CHECK_THAT(ErrorOf(R"({"a":"A","b":"B","c":"C"})", kJson, limits),
               Equals("codes.json: [\"c\"]: too many options (the limit is "
                      "2)"));
  }
}

TEST_CASE("A 1024-byte label is accepted and a 1025-byte one refused") {
  const std::string ascii_1024(1024, 'x');
  const std::string utf8_1024 = Repeat("\xC3\xA9", 512);  // 512 x U+00E9

  for (const std::string& label : {ascii_1024, utf8_1024}) {
    auto csv = Parse("value,label\n01,\"" + label + "\"\n", kCsv);
    REQUIRE(csv);
    CHECK(csv->options()[0].label == label);
    CHECK(Parse("[{\"value\":\"01\",\"label\":\"" + label + "\"}]", kJson));
    CHECK(Parse("01 - " + label + "\n", kText));
    // Surrounding whitespace does not count.
    CHECK(Parse("01 -    " + label + "   \n", kText));
  }

  CHECK_THAT(ErrorOf("value,label\n01,Yes\n02," + ascii_1024 + "y\n", kCsv),
             Equals("codes.csv: line 3: label is 1025 bytes long, over the "
                    "limit of 1024"));
  CHECK_THAT(ErrorOf("value,label\n02," + utf8_1024 + "y\n", kCsv),
             Equals("codes.csv: line 2: label is 1025 bytes long, over the "
                    "limit of 1024"));
  CHECK_THAT(ErrorOf("[{\"value\":\"01\",\"label\":\"" + ascii_1024 + "y\"}]",
                     kJson),
             Equals("codes.json: [0].label: label is 1025 bytes long, over the "
                    "limit of 1024"));
  CHECK_THAT(ErrorOf("\n" + ascii_1024 + "y\n", kText),
             Equals("codes.txt: line 2: label is 1025 bytes long, over the "
                    "limit of 1024"));
  // A string of the array form is both value and label: the label is
  // reported first.
  CHECK_THAT(ErrorOf("[\"" + ascii_1024 + "y\"]", kJson),
             Equals("codes.json: [0]: value is 1025 bytes long, over the limit "
                    "of 1024"));
}

TEST_CASE("Values have their own byte limit") {
  const std::string v1024(1024, 'v');
  CHECK(Parse("value,label\n" + v1024 + ",x\n", kCsv));
  CHECK_THAT(ErrorOf("value,label\n" + v1024 + "w,x\n", kCsv),
             Equals("codes.csv: line 2: value is 1025 bytes long, over the "
                    "limit of 1024"));
  UserListLimits limits;
  limits.max_value_bytes = 2;
  limits.max_label_bytes = 3;
  CHECK(Parse("01 - abc\n", kText, limits));
  CHECK_THAT(ErrorOf("012 - abc\n", kText, limits),
             Equals("codes.txt: line 1: value is 3 bytes long, over the limit "
                    "of 2"));
  CHECK_THAT(ErrorOf("01 - abcd\n", kText, limits),
             Equals("codes.txt: line 1: label is 4 bytes long, over the limit "
                    "of 3"));
}

TEST_CASE("Long or odd values are quoted briefly in messages") {
  const std::string long_value(200, 'a');
  const std::string message =
      ErrorOf("value,label\n" + long_value + ",x\n" + long_value + ",y\n",
              kCsv);
  CHECK_THAT(message, Equals("codes.csv: line 3: duplicate value '" +
                             std::string(60, 'a') +
                             "...' (first on line 2)"));
  // A cut never splits a character.
  const std::string wide = Repeat("\xE6\x97\xA5", 30);  // 90 bytes
  CHECK_THAT(ErrorOf("[\"" + wide + "\",\"" + wide + "\"]", kJson),
             Equals("codes.json: [1]: duplicate value '" +
                    Repeat("\xE6\x97\xA5", 20) + "...' (first at [0])"));
  CHECK_THAT(ErrorOf("value\tx,label\n", kCsv),
             StartsWith("codes.csv: line 1: unknown column 'value\\tx' in the "
                        "header"));
}

// ---------------------------------------------------------------------------
// Robustness

// Checks what any parse must give: a valid list or a kInvalidArgument error
// naming the file.
void CheckOutcome(const Result<OptionList>& result, UserListFormat f,
                  const UserListLimits& limits) {
  if (result) {
    REQUIRE_FALSE(result->empty());
    REQUIRE(result->size() <= limits.max_options);
    for (const Option& o : result->options()) {
      REQUIRE_FALSE(o.value.empty());
      REQUIRE_FALSE(o.label.empty());
      REQUIRE(o.value.size() <= limits.max_value_bytes);
      REQUIRE(o.label.size() <= limits.max_label_bytes);
      REQUIRE_FALSE(FindInvalidUtf8(o.value));
      REQUIRE_FALSE(FindInvalidUtf8(o.label));
      REQUIRE_FALSE(HasControlCharacter(o.value));
      REQUIRE_FALSE(HasControlCharacter(o.label));
    }
  } else {
    REQUIRE(result.error().code == ErrorCode::kInvalidArgument);
    REQUIRE_THAT(result.error().message, StartsWith(NameFor(f) + ": "));
  }
}

TEST_CASE("Random bytes never crash: a list or a kInvalidArgument error") {
  std::mt19937 rng(20240611);
  // Bytes that matter to the grammars, plus arbitrary ones.
  const std::string interesting =
      ",,,\"\"\"\n\n\n\r - -[]{}:\\ \t01abcvalue\xEF\xBB\xBF\xC3\xA9\x80\xFF";
  UserListLimits limits;
  limits.max_options = 20;
  limits.max_label_bytes = 16;
  limits.max_value_bytes = 8;
  std::size_t lists = 0;
  std::size_t errors = 0;
  for (int round = 0; round < 20000; ++round) {
    std::uniform_int_distribution<int> length(0, 120);
    std::string bytes;
    const int n = length(rng);
    for (int i = 0; i < n; ++i) {
      if (rng() % 4 == 0) {
        bytes += static_cast<char>(rng() % 256);
      } else {
        bytes += interesting[rng() % interesting.size()];
      }
    }
    for (UserListFormat f : {kCsv, kJson, kText}) {
      INFO("round " << round << " format " << UserListFormatName(f));
      auto result = ParseUserList(bytes, f, NameFor(f), limits);
      CheckOutcome(result, f, limits);
      (result ? lists : errors)++;
    }
  }
  CHECK(lists > 0);
  CHECK(errors > 0);
}

TEST_CASE("Mutated valid files never crash") {
  std::mt19937 rng(7);
  const std::vector<std::pair<UserListFormat, std::string>> seeds = {
      {kCsv,
       "value,label,parent\n01,\"Yes, sir\",\n02,\"Say \"\"no\"\"\",01\n"
       "03,\"multi\nline\",02\r\n"},
      {kJson,
       R"([{"value":"01","label":"Yes","parent":null},{"value":"02","label":"No","parent":"01"}])"},
      {kJson, R"({"01":"Yes","02":"No","03":"Caf\u00e9"})"},
      {kJson, R"(["Red","Green","Blue"])"},
      {kText, "01 - Yes\n02 - No\n\n03 - A - B\r\n"},
      {kText, "Red\nGreen\nBlue\n"},
  };
  const UserListLimits limits;
  for (int round = 0; round < 20000; ++round) {
    const auto& [format, seed] = seeds[rng() % seeds.size()];
    std::string bytes = seed;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !bytes.empty(); ++e) {
      const std::size_t at = rng() % bytes.size();
      switch (rng() % 3) {
        case 0: bytes[at] = static_cast<char>(rng() % 256); break;
        case 1: bytes.erase(at, 1 + rng() % 3); break;
        case 2: bytes.insert(at, 1, "\",\n\r{}[]- \x01\xC2"[rng() % 13]); break;
      }
    }
    for (UserListFormat f : {format, kCsv, kJson, kText}) {
      INFO("round " << round);
      CheckOutcome(ParseUserList(bytes, f, NameFor(f), limits), f, limits);
    }
  }
}

TEST_CASE("Truncations of a valid file never crash") {
  const std::string csv =
      "\xEF\xBB\xBFvalue,label,parent\r\n01,\"Yes, \"\"really\"\"\",\r\n"
      "02,\"Caf\xC3\xA9\",01\r\n";
  const std::string json =
      "\xEF\xBB\xBF[{\"value\":\"01\",\"label\":\"Caf\xC3\xA9\"},"
      "{\"value\":\"02\",\"label\":\"No\",\"parent\":\"01\"}]";
  for (std::size_t n = 0; n <= csv.size(); ++n) {
    CheckOutcome(Parse(csv.substr(0, n), kCsv), kCsv, {});
  }
  for (std::size_t n = 0; n <= json.size(); ++n) {
    CheckOutcome(Parse(json.substr(0, n), kJson), kJson, {});
  }
}

}  // namespace
}  // namespace datasnap
