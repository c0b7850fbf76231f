// The commands for the lists users make themselves, driven in-process
// through RunCli with a fake clock: import (CSV, JSON and text; new
// versions only when the content changed; every bad input refused with
// exit 2 and the store left byte-for-byte as it was), the key rules,
// organisations' ownership, customise, publish, delete (soft, refused while
// custom versions depend on it unless --force), the audit log's actor, the
// scope of exports (public manifest: global datasets only; orgs/<org>/ for
// an organisation's own) and `list --org`.
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <string>
#include <vector>

#include "core/compression.h"
#include "core/model.h"
#include "core/sha256.h"
#include "store/store.h"
#include "tests/support/temp_dir.h"
#include "tests/tools/refresh_test_support.h"
#include "tools/cli.h"

namespace datasnap {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using refresh_test::Cli;
using refresh_test::Commit;
using refresh_test::Contains;
using refresh_test::CountOf;
using refresh_test::Describe;
using refresh_test::kHour;
using refresh_test::Run;

// ------------------------------------------------------------- helpers

Option O(std::string value, std::string label,
         std::optional<std::string> parent = std::nullopt) {
  return Option{std::move(value), std::move(label), std::move(parent), false};
}

// Writes `bytes` to a file `name` in the test's directory; its path.
std::string Input(Cli& cli, const std::string& name, const std::string& bytes) {
  const std::string path = cli.dir_.File(name);
  testing::WriteFile(path, bytes);
  return path;
}

// Runs a command that must succeed.
Run Ok(Cli& cli, std::vector<std::string> args) {
  Run r = cli(std::move(args));
  INFO(Describe(r));
  REQUIRE(r.code == kExitOk);
  return r;
}

// Runs a command that must fail with exit 2 and a "datasnap: error: "
// message containing each of `needles`, leaving the store file as it was,
// byte for byte. Returns the run.
Run Refused(Cli& cli, std::vector<std::string> args,
            const std::vector<std::string>& needles) {
  const bool existed = fs::exists(cli.store_);
  const std::string before = existed ? cli.StoreBytes() : "";
  Run r = cli(args);
  std::string command;
  for (const std::string& a : args) command += a + " ";
  INFO("datasnap " << command << "\n" << Describe(r));
  CHECK(r.code == kExitUsage);
  CHECK(r.out.empty());
  CHECK(r.err.starts_with("datasnap: error: "));
  for (const std::string& n : needles) {
    INFO("expected in stderr: " << n);
    CHECK(Contains(r.err, n));
  }
  REQUIRE(fs::exists(cli.store_) == existed);
  if (existed) CHECK((cli.StoreBytes() == before));
  return r;
}

// Seeds the 55 catalogue records and stores versions of two global ones.
void Seed(Cli& cli) {
  Ok(cli, {"seed-nhs-dd"});
  Ok(cli, {"seed-external"});
  Commit(cli, "ethnic_category",
         {O("A", "White - British"), O("B", "White - Irish"),
          O("Z", "Not stated")});
  Commit(cli, "nhs_trusts", {O("RGT", "Cambridge"), O("RRV", "UCLH")});
}

json Options(Cli& cli, const std::string& key) {
  return cli.Show(key)["options"];
}

json Opt(const std::string& value, const std::string& label) {
  return json{{"value", value}, {"label", label}};
}
json Opt(const std::string& value, const std::string& label,
         const std::string& parent) {
  return json{{"value", value}, {"label", label}, {"parent", parent}};
}

// list --json [extra...], as key -> entry.
std::map<std::string, json> Listed(Cli& cli,
                                   std::vector<std::string> extra = {}) {
  std::vector<std::string> args{"list", "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  std::map<std::string, json> out;
  for (const json& d : cli.Json(args)) out[d["key"].get<std::string>()] = d;
  return out;
}

std::vector<std::string> Keys(const std::map<std::string, json>& m) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : m) keys.push_back(k);
  return keys;
}

// The newest audit event with `action` (and `dataset`), or null.
json LastAudit(Cli& cli, const std::string& action,
               const std::string& dataset = "") {
  for (const json& e : cli.Audit()) {  // newest first
    if (e["action"] != action) continue;
    if (!dataset.empty() && e["dataset"] != dataset) continue;
    return e;
  }
  return nullptr;
}

std::string Unzstd(const std::string& frame) {
  auto decoded = ZstdDecompress(frame, std::size_t{1} << 30);
  INFO((decoded ? std::string() : decoded.error().message));
  REQUIRE(decoded.has_value());
  return *decoded;
}

std::string Gunzip(const std::string& member) {
  auto decoded = GzipDecompress(member, std::size_t{1} << 30);
  INFO((decoded ? std::string() : decoded.error().message));
  REQUIRE(decoded.has_value());
  return *decoded;
}

// Every regular file under `root`: relative '/'-path -> decoded text (zstd
// and gzip files decompressed).
std::map<std::string, std::string> ReadTree(const std::string& root) {
  std::map<std::string, std::string> tree;
  if (!fs::exists(root)) return tree;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (!e.is_regular_file()) continue;
    const std::string rel = fs::relative(e.path(), root).generic_string();
    std::string bytes = testing::ReadFile(e.path().string());
    if (rel.ends_with(".zst")) bytes = Unzstd(bytes);
    if (rel.ends_with(".gz")) bytes = Gunzip(bytes);
    tree[rel] = std::move(bytes);
  }
  return tree;
}

json ReadJson(const std::string& path) {
  REQUIRE(fs::exists(path));
  return json::parse(testing::ReadFile(path));
}

std::vector<std::string> ManifestKeys(const json& manifest) {
  std::vector<std::string> keys;
  for (const json& d : manifest["datasets"]) keys.push_back(d["key"]);
  return keys;
}

const json* Entry(const json& manifest, const std::string& key) {
  for (const json& d : manifest["datasets"]) {
    if (d["key"] == key) return &d;
  }
  return nullptr;
}

// Every file path a manifest entry names (snapshot, diffs, older, fhir).
std::vector<std::string> EntryFiles(const json& entry) {
  std::vector<std::string> paths;
  for (const json& f : entry["snapshot"]["files"]) paths.push_back(f["path"]);
  for (const json& d : entry["diffs"]) {
    for (const json& f : d["files"]) paths.push_back(f["path"]);
  }
  if (entry.contains("older_snapshots")) {
    for (const json& o : entry["older_snapshots"]) {
      for (const json& f : o["files"]) paths.push_back(f["path"]);
    }
  }
  if (entry.contains("fhir")) paths.push_back(entry["fhir"]["path"]);
  return paths;
}

// The table row of `key` in `list`'s text output, split on runs of two or
// more spaces; empty when there is none.
std::vector<std::string> RowOf(const std::string& out, const std::string& key) {
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with(key + "  ")) continue;
    static const std::regex gap(" {2,}");
    return std::vector<std::string>(
        std::sregex_token_iterator(line.begin(), line.end(), gap, -1),
        std::sregex_token_iterator());
  }
  return {};
}

// ---------------------------------------------------------------- import

TEST_CASE("import: CSV with a BOM, CRLF, quoted fields, embedded commas and parents") {
  Cli cli;
  Seed(cli);
  const std::string file = Input(
      cli, "regions.csv",
      "\xEF\xBB\xBFvalue,label,parent\r\n"
      "\"N\",\"North, and the Borders\",\r\n"
      "N1,\"Say \"\"hi\"\"\",N\r\n"
      "  S , South ,\r\n"
      "\r\n"
      "S1,\"Coast, west\",S\r\n");
  Run r = Ok(cli, {"import", "regions", "--name", "Regions", "--file", file,
                   "--tags", "geo, local ,,", "--description", "Our regions"});
  CHECK(Contains(r.out, "Created regions: 4 options (version 1)"));

  const json shown = cli.Show("regions");
  CHECK(shown["name"] == "Regions");
  CHECK(shown["description"] == "Our regions");
  CHECK(shown["category"] == "user_created");
  CHECK(shown["source_type"] == "imported");
  CHECK(shown["tags"] == json::array({"geo", "local"}));
  CHECK(shown["is_global"] == true);  // no --org: the deployment's own list
  CHECK(shown["organization"].is_null());
  CHECK(shown["is_custom"] == false);
  CHECK(shown["parent"].is_null());
  CHECK(shown["version"] == 1);
  CHECK(shown["options"] ==
        json::array({Opt("N", "North, and the Borders"),
                     Opt("N1", "Say \"hi\"", "N"), Opt("S", "South"),
                     Opt("S1", "Coast, west", "S")}));
  const json& p = shown["provenance"];
  // No local path and no login name in what may be published: the note
  // names the file only; the audit log says who.
  CHECK(p["source_url"].is_null());
  CHECK(p["raw_sha256"].is_string());
  CHECK(p["note"] == "imported from " +
                         std::filesystem::path(file).filename().string() +
                         " (csv)");

  SECTION("a `code,label` header in another order, and a quoted line break") {
    // A line break inside a quoted field is a control character in the
    // label once trimmed; one at its end is trimmed away.
    const std::string f2 = Input(cli, "codes.CSV",
                                 "Label,CODE\n"
                                 "\"Alpha, first\",a\n"
                                 "\"Beta\n\",b\n");
    Run r2 = Ok(cli, {"import", "codes", "--name", "Codes", "--file", f2});
    CHECK(Contains(r2.out, "Created codes: 2 options (version 1)"));
    CHECK(Options(cli, "codes") ==
          json::array({Opt("a", "Alpha, first"), Opt("b", "Beta")}));
  }
  SECTION("--format csv for a file named otherwise") {
    const std::string f2 = Input(cli, "list.dat", "value,label\nx,Ex\n");
    Ok(cli, {"import", "dat", "--name", "Dat", "--file", f2, "--format", "csv"});
    CHECK(Options(cli, "dat") == json::array({Opt("x", "Ex")}));
  }
  SECTION("a parent named later in the file") {
    const std::string f2 = Input(cli, "fwd.csv",
                                 "parent,label,value\nP,Child,c\n,Parent,P\n");
    Ok(cli, {"import", "fwd", "--name", "Forward", "--file", f2});
    CHECK(Options(cli, "fwd") ==
          json::array({Opt("c", "Child", "P"), Opt("P", "Parent")}));
  }
}

TEST_CASE("import: JSON as an array of objects, an object, an array of strings") {
  Cli cli;
  Seed(cli);
  SECTION("array of {value, label, parent}") {
    const std::string f = Input(
        cli, "a.json",
        "\xEF\xBB\xBF[{\"value\": \"1\", \"label\": \"One\"},"
        " {\"value\": \"2\", \"label\": \" Two \", \"parent\": \"1\"},"
        " {\"label\": \"Three\", \"value\": \"3\", \"parent\": null}]");
    Run r = Ok(cli, {"import", "objs", "--name", "Objects", "--file", f});
    CHECK(Contains(r.out, "Created objs: 3 options (version 1)"));
    CHECK(Options(cli, "objs") == json::array({Opt("1", "One"),
                                               Opt("2", "Two", "1"),
                                               Opt("3", "Three")}));
    CHECK(Contains(cli.Show("objs")["provenance"]["note"].get<std::string>(),
                   "(json)"));
  }
  SECTION("object {code: label}, in document order") {
    const std::string f =
        Input(cli, "o.json", "{\"b\": \"Bee\", \"a\": \"Ay\", \"c, d\": \"See\"}");
    Ok(cli, {"import", "obj", "--name", "Object", "--file", f});
    CHECK(Options(cli, "obj") ==
          json::array({Opt("b", "Bee"), Opt("a", "Ay"), Opt("c, d", "See")}));
  }
  SECTION("array of strings: value = label") {
    const std::string f =
        Input(cli, "s.JSON", "[\"Red\", \"Green\", \"Blue \\u00e9\"]");
    Ok(cli, {"import", "strs", "--name", "Strings", "--file", f});
    CHECK(Options(cli, "strs") ==
          json::array({Opt("Red", "Red"), Opt("Green", "Green"),
                       Opt("Blue \xC3\xA9", "Blue \xC3\xA9")}));
  }
  SECTION("--format json for a .txt file") {
    const std::string f = Input(cli, "s.txt", "[\"x\"]");
    Ok(cli, {"import", "strs", "--name", "Strings", "--file", f, "--format",
             "json"});
    CHECK(Options(cli, "strs") == json::array({Opt("x", "x")}));
  }
}

TEST_CASE("import: text, `CODE - Label` lines or plain values numbered 001...") {
  Cli cli;
  Seed(cli);
  SECTION("CODE - Label, split on the first ' - '") {
    const std::string f = Input(cli, "pairs.txt",
                                "  M - Male\r\n\r\nF - Female - adult\nX -  Other \n");
    Run r = Ok(cli, {"import", "sex", "--name", "Sex", "--file", f});
    CHECK(Contains(r.out, "Created sex: 3 options (version 1)"));
    CHECK(Options(cli, "sex") == json::array({Opt("M", "Male"),
                                              Opt("F", "Female - adult"),
                                              Opt("X", "Other")}));
    CHECK(Contains(cli.Show("sex")["provenance"]["note"].get<std::string>(),
                   "(text)"));
  }
  SECTION("plain values are numbered in file order, 3 digits then more") {
    std::string text = "\xEF\xBB\xBF";
    for (int i = 1; i <= 1001; ++i) {
      text += "Item " + std::to_string(i) + (i == 3 ? "\n\n" : "\n");
    }
    const std::string f = Input(cli, "plain", text);  // no extension: text
    Run r = Ok(cli, {"import", "plain", "--name", "Plain", "--file", f});
    CHECK(Contains(r.out, "Created plain: 1001 options (version 1)"));
    const json options = Options(cli, "plain");
    REQUIRE(options.size() == 1001);
    CHECK(options[0] == Opt("001", "Item 1"));
    CHECK(options[3] == Opt("004", "Item 4"));  // the blank line is no option
    CHECK(options[998] == Opt("999", "Item 999"));
    CHECK(options[999] == Opt("1000", "Item 1000"));
    CHECK(options[1000] == Opt("1001", "Item 1001"));
  }
  SECTION("a line with a dash but not ' - ' is a plain value") {
    const std::string f = Input(cli, "dash.txt", "Well-being\nA -B\n");
    Ok(cli, {"import", "dash", "--name", "Dash", "--file", f});
    CHECK(Options(cli, "dash") ==
          json::array({Opt("001", "Well-being"), Opt("002", "A -B")}));
  }
  SECTION("--format text for a .csv file") {
    const std::string f = Input(cli, "t.csv", "value,label\n");
    Ok(cli, {"import", "t", "--name", "T", "--file", f, "--format", "text"});
    CHECK(Options(cli, "t") == json::array({Opt("001", "value,label")}));
  }
}

TEST_CASE("import: limits are inclusive (1 KiB labels, 100,000 options)") {
  Cli cli;
  Seed(cli);
  const std::string label(1024, 'x');
  const std::string f =
      Input(cli, "long.csv", "value,label\n" + std::string(1024, 'v') + "," +
                                 label + "\n");
  Ok(cli, {"import", "long", "--name", "Long", "--file", f});
  CHECK(Options(cli, "long")[0]["label"] == label);

  std::string many;
  many.reserve(1'200'000);
  for (int i = 1; i <= 100'000; ++i) many += std::to_string(i) + "\n";
  const std::string g = Input(cli, "many.txt", many);
  Run r = Ok(cli, {"import", "many", "--name", "Many", "--file", g});
  CHECK(Contains(r.out, "Created many: 100000 options (version 1)"));
}

TEST_CASE("re-import: unchanged content makes no version, changed content one") {
  Cli cli;
  Seed(cli);
  const std::string v1 = Input(cli, "l.csv",
                               "value,label\n01,One\n02,Two\n03,Three\n");
  Ok(cli, {"import", "my_list", "--name", "My list", "--file", v1, "--tags", "a"});
  CHECK(LastAudit(cli, "import.created", "my_list")["detail"].get<std::string>()
            .starts_with("version 1: 3 options"));

  // The same options from other bytes (another format, whitespace): no
  // version; the check is recorded.
  cli.now_ += kHour;
  const std::string same = Input(cli, "same.json",
                                 "{\"01\": \"One\", \"02\": \" Two\", \"03\": \"Three\"}");
  Run unchanged = Ok(cli, {"import", "my_list", "--file", same});
  CHECK(Contains(unchanged.out, "Unchanged: my_list (version 1)"));
  CHECK(cli.Json({"history", "my_list", "--json"}).size() == 1);
  const json event = LastAudit(cli, "import.unchanged", "my_list");
  REQUIRE(event.is_object());
  CHECK(Contains(event["detail"].get<std::string>(), "content matches version 1"));
  CHECK(cli.Show("my_list")["name"] == "My list");  // kept without --name
  CHECK(cli.Show("my_list")["tags"] == json::array({"a"}));

  // Changed: one relabelled, one removed, one added.
  cli.now_ += kHour;
  const std::string v2 = Input(cli, "l2.txt", "01 - One\n02 - Deux\n04 - Four\n");
  Run updated = Ok(cli, {"import", "my_list", "--file", v2, "--name",
                         "My renamed list", "--tags", "b,c"});
  CHECK(Contains(updated.out, "Updated my_list: version 2 (+1 \u22121 ~1)"));
  const json history = cli.Json({"history", "my_list", "--json"});
  REQUIRE(history.size() == 2);
  CHECK(history[0]["version"] == 1);
  CHECK(history[1]["version"] == 2);
  CHECK(history[1]["option_count"] == 3);
  CHECK(history[1]["provenance"]["source_url"].is_null());
  const json shown = cli.Show("my_list");
  CHECK(shown["name"] == "My renamed list");
  CHECK(shown["tags"] == json::array({"b", "c"}));
  CHECK(shown["options"] == json::array({Opt("01", "One"), Opt("02", "Deux"),
                                         Opt("04", "Four")}));
  CHECK(cli.Json({"show", "my_list", "--version", "1", "--json"})["options"] ==
        json::array({Opt("01", "One"), Opt("02", "Two"), Opt("03", "Three")}));
  CHECK(Contains(LastAudit(cli, "import.updated", "my_list")["detail"]
                     .get<std::string>(),
                 "version 2: 3 options (version 1 had 3)"));

  Run diff = Ok(cli, {"diff", "my_list"});
  CHECK(Contains(diff.out, "my_list: version 1 \u2192 2"));
  CHECK(Contains(diff.out, "- 03  Three"));
  CHECK(Contains(diff.out, "+ 04  Four"));
  CHECK(Contains(diff.out, "~ 02  Two \u2192 Deux"));
  CHECK(Contains(diff.out, "1 added, 1 removed, 1 changed (3 \u2192 3 options)"));
  const json dj = cli.Json({"diff", "my_list", "--format", "json"});
  CHECK(dj["summary"] == json({{"added", 1}, {"removed", 1}, {"changed", 1},
                               {"reordered", false}}));

  // Back to version 1's content: a new version 3, not version 1 again.
  cli.now_ += kHour;
  Run back = Ok(cli, {"import", "my_list", "--file", v1});
  CHECK(Contains(back.out, "Updated my_list: version 3"));
  CHECK(cli.Json({"history", "my_list", "--json"}).size() == 3);
  // A reorder alone is a change.
  const std::string reordered = Input(cli, "r.csv",
                                      "value,label\n02,Two\n01,One\n03,Three\n");
  Run moved = Ok(cli, {"import", "my_list", "--file", reordered});
  CHECK(Contains(moved.out, "Updated my_list: version 4 (+0 \u22120 ~0, reordered)"));
  // Off a terminal, ASCII.
  cli.env_.out_is_terminal = false;
  Run piped = Ok(cli, {"import", "my_list", "--file", v2});
  CHECK(Contains(piped.out, "Updated my_list: version 5 (+1 -1 ~1"));
}

// ------------------------------------------------------ bad input files

struct BadFile {
  std::string title;
  std::string file_name;
  std::string bytes;
  // Each expected in the message after "<path>: ".
  std::vector<std::string> expect;
};

std::vector<BadFile> BadFiles() {
  std::string too_many;
  for (int i = 1; i <= 100'001; ++i) too_many += "v" + std::to_string(i) + "\n";
  return {
      // Empty values and labels.
      {"CSV empty value", "ev.csv", "value,label\nA,Alpha\n  ,Beta\n",
       {"line 3: empty value"}},
      {"CSV empty label", "el.csv", "value,label\nA,\"  \"\n",
       {"line 2: empty label"}},
      {"JSON empty label", "el.json",
       R"([{"value": "a", "label": "A"}, {"value": "b", "label": ""}])",
       {"[1].label: empty label"}},
      {"JSON empty key", "ek.json", R"({"x": "X", "": "Nothing"})",
       {"[\"\"]: empty value"}},
      {"JSON empty string", "es.json", R"(["a", " "])", {"[1]: empty value"}},
      {"text empty label", "el.txt", "A - Alpha\nB -  \n",
       // "B -" once trimmed has no " - ": a plain value among pairs.
       {"line 2: mixed formats"}},
      // Duplicates, both places named.
      {"CSV duplicate", "d.csv", "value,label\n01,One\n02,Two\n 01 ,Uno\n",
       {"line 4: duplicate value '01' (first on line 2)"}},
      {"text duplicate", "d.txt", "01 - One\n02 - Two\n\n01 - Again\n",
       {"line 4: duplicate value '01' (first on line 1)"}},
      {"text duplicate code, blank-free", "d2.txt",
       "x - X\ny - Y\nx - X\n", {"line 3: duplicate value 'x' (first on line 1)"}},
      {"JSON duplicate string", "d.json", R"(["a", "b", "a"])",
       {"[2]: duplicate value 'a' (first at [0])"}},
      {"JSON duplicate object value", "d2.json",
       R"([{"value": "a", "label": "A"}, {"value": "a", "label": "B"}])",
       {"[1].value: duplicate value 'a' (first at [0].value)"}},
      {"JSON duplicate key", "d3.json", R"({"x": "1", "y": "2", "x": "3"})",
       {"[\"x\"]: duplicate key 'x' (members 1 and 3 of the object)"}},
      // Invalid UTF-8 (file offset 26 is the 7th byte of line 3).
      {"CSV invalid UTF-8", "u.csv", "value,label\nA,Alpha\nB,Bad \xFF byte\n",
       {"line 3: invalid UTF-8 at byte 7 of the line (file offset 26)"}},
      {"JSON invalid UTF-8", "u.json", "[\"ok\",\n \"\xC3\x28\"]",
       {"line 2: invalid UTF-8 at byte 3 of the line (file offset 9)"}},
      {"text overlong encoding", "u.txt", "A - \xC0\xAF\n",
       {"line 1: invalid UTF-8"}},
      // Control characters.
      {"CSV control character", "c.csv", "value,label\nA,Al\x01pha\n",
       {"line 2: label has a control character (U+0001)"}},
      {"text tab inside a label", "c.txt", "A - Al\tpha\n",
       {"line 1: label has a control character (U+0009)"}},
      {"C1 control in a value", "c2.txt", "A\xC2\x85 - Alpha\n",
       {"line 1: value has a control character (U+0085)"}},
      {"JSON escaped control", "c.json", R"(["a\u0007b"])",
       {"[0]: value has a control character (U+0007)"}},
      {"CSV line break inside a quoted label", "c2.csv",
       "value,label\nA,\"two\nlines\"\n",
       {"line 2: label has a control character (U+000A)"}},
      {"DEL", "c3.csv", "value,label\nA\x7F,Alpha\n",
       {"line 2: value has a control character (U+007F)"}},
      // Over 1 KiB.
      {"label over 1 KiB", "big.csv",
       "value,label\nA,Alpha\nB," + std::string(1025, 'x') + "\n",
       {"line 3: label is 1025 bytes long, over the limit of 1024"}},
      {"label over 1 KiB in bytes, not characters", "big.json",
       "{\"e\": \"" + [] {
         std::string s;
         for (int i = 0; i < 513; ++i) s += "\xC3\xA9";
         return s;
       }() + "\"}",
       {"[\"e\"]: label is 1026 bytes long, over the limit of 1024"}},
      {"value over 1 KiB", "bigv.txt", std::string(1025, 'v') + " - V\n",
       {"line 1: value is 1025 bytes long, over the limit of 1024"}},
      // Too many options.
      {"more than 100,000 options", "many.txt", too_many,
       {"line 100001: too many options (the limit is 100000)"}},
      // Unknown parents.
      {"CSV unknown parent", "p.csv", "value,label,parent\nA,Alpha,\nB,Beta,Q\n",
       {"line 3: unknown parent 'Q' (no option of the list has that value)"}},
      {"JSON unknown parent", "p.json",
       R"([{"value": "a", "label": "A", "parent": "zz"}])",
       {"[0].parent: unknown parent 'zz'"}},
      {"own parent", "p2.csv", "value,label,parent\nA,Alpha,A\n",
       {"line 2: option 'A' names itself as its parent"}},
      // Empty files.
      {"empty CSV", "e.csv", "", {"no options (the file is empty)"}},
      {"empty JSON", "e.json", "", {"no options (the file is empty)"}},
      {"empty text", "e.txt", "", {"no options (the file is empty)"}},
      {"BOM only", "bom.csv", "\xEF\xBB\xBF", {"no options (the file is empty)"}},
      {"blank lines only", "b.txt", "\n  \r\n\t\n",
       {"no options (the file has only blank lines)"}},
      {"CSV header only", "h.csv", "value,label\r\n",
       {"no options (the file has only a header row)"}},
      {"JSON []", "ea.json", "[]", {"no options (the array is empty)"}},
      {"JSON {}", "eo.json", " {} ", {"no options (the object is empty)"}},
      // Mixed text styles.
      {"mixed text styles", "m.txt", "A - Alpha\n\nBeta\n",
       {"line 3: mixed formats: line 1 is 'CODE - Label' but line 3 is a "
        "plain value"}},
      {"mixed text styles, plain first", "m2.txt", "Alpha\nB - Beta\n",
       {"line 2: mixed formats: line 2 is 'CODE - Label' but line 1 is a "
        "plain value"}},
      // CSV structure.
      {"CSV without a header", "nh.csv", "A,Alpha\n",
       {"line 1: unknown column 'A' in the header"}},
      {"CSV header without label", "nl.csv", "value,name\nA,Alpha\n",
       {"line 1: unknown column 'name'"}},
      {"CSV row with too many fields", "f.csv", "value,label\nA,Alpha,x\n",
       {"line 2: 3 fields, but the header has 2"}},
      {"CSV stray quote", "q.csv", "value,label\nA,Al\"pha\n",
       {"line 2: CSV syntax error"}},
      {"CSV unclosed quote", "q2.csv", "value,label\nA,\"Alpha\nB,Beta\n",
       {"line 2: a quoted field of the record starting here is never closed"}},
      {"lone carriage return", "cr.csv", "value,label\rA,Alpha\r\n",
       {"line 1: a carriage return not followed by a line feed"}},
      // JSON structure.
      {"JSON syntax", "s.json", "[{\"value\": \"a\",", {"not valid JSON"}},
      {"JSON numbers", "n.json", "[1, 2]",
       {"[0]: expected an object or a string, found"}},
      {"JSON objects and strings mixed", "mx.json",
       R"([{"value": "a", "label": "A"}, "b"])",
       {"[1]: expected an object like [0]"}},
      {"JSON unknown field", "uf.json",
       R"([{"value": "a", "label": "A", "code": "x"}])",
       {"[0]: unknown field 'code'"}},
      {"JSON label not a string", "ns.json", R"({"a": 1})",
       {"[\"a\"]: label must be a string, found"}},
      {"JSON value missing", "vm.json", R"([{"label": "A"}])",
       {"[0].value: value is missing"}},
      {"JSON top level", "tl.json", R"("just a string")",
       {"expected an array or an object at the top level"}},
  };
}

TEST_CASE("import: every bad file is a clear error, exit 2, store unchanged") {
  Cli cli;
  Seed(cli);
  const std::string good = Input(cli, "good.csv", "value,label\nA,Alpha\n");
  Ok(cli, {"import", "existing", "--name", "Existing", "--file", good});
  const json list_before = cli.Json({"list", "--json"});
  const json audit_before = cli.Audit();

  for (const BadFile& bad : BadFiles()) {
    const std::string path = Input(cli, bad.file_name, bad.bytes);
    for (const std::string key : {"fresh", "existing"}) {
      INFO(bad.title << " (into " << key << ")");
      std::vector<std::string> needles;
      for (const std::string& e : bad.expect) needles.push_back(path + ": " + e);
      Refused(cli, {"import", key, "--name", "Fresh", "--file", path}, needles);
    }
  }
  CHECK(cli.Json({"list", "--json"}) == list_before);
  CHECK(cli.Audit() == audit_before);
  CHECK(Options(cli, "existing") == json::array({Opt("A", "Alpha")}));
}

TEST_CASE("import: bad arguments are exit 2 and leave the store as it was") {
  Cli cli;
  Seed(cli);
  const std::string good = Input(cli, "good.csv", "value,label\nA,Alpha\n");
  SECTION("--format other than csv, json, text") {
    Refused(cli, {"import", "x", "--name", "X", "--file", good, "--format", "xml"},
            {"--format must be csv, json or text, not 'xml'"});
    Refused(cli, {"import", "x", "--name", "X", "--file", good, "--format", "CSV"},
            {"--format must be csv, json or text, not 'CSV'"});
  }
  SECTION("a missing file") {
    const std::string missing = cli.dir_.File("nope.csv");
    Refused(cli, {"import", "x", "--name", "X", "--file", missing},
            {"cannot read '" + missing + "'"});
  }
  SECTION("no --file") {
    Refused(cli, {"import", "x", "--name", "X"}, {"--file"});
  }
  SECTION("a new dataset without --name") {
    Refused(cli, {"import", "x", "--file", good},
            {"a new dataset needs a name: --name NAME"});
    CHECK(cli({"show", "x"}).code == kExitUsage);
  }
  SECTION("the wrong format for the bytes") {
    Refused(cli, {"import", "x", "--name", "X", "--file", good, "--format", "json"},
            {good + ": ", "not valid JSON"});
  }
}

// ------------------------------------------------------------------ keys

TEST_CASE("keys: user keys follow the syntax and never take a catalogue key or alias") {
  Cli cli;
  Seed(cli);
  const std::string good = Input(cli, "good.csv", "value,label\nA,Alpha\n");
  auto import = [&](const std::string& key, std::vector<std::string> extra = {}) {
    std::vector<std::string> args{"import", key, "--name", "N", "--file", good};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  SECTION("catalogue keys") {
    Refused(cli, import("ethnic_category"),
            {"'ethnic_category' is a catalogue dataset; choose another key for "
             "a user dataset"});
    Refused(cli, import("nhs_trusts", {"--org", "acme"}),
            {"'nhs_trusts' is a catalogue dataset"});
    CHECK(Options(cli, "ethnic_category").size() == 3);
  }
  SECTION("catalogue aliases") {
    Refused(cli, import("accommodation_status_code"),
            {"'accommodation_status_code' is an older key of the catalogue "
             "dataset 'accommodation_status'"});
    Refused(cli, import("admission_source_hospital", {"--org", "acme"}),
            {"older key of the catalogue dataset "
             "'admission_source_hospital_provider'"});
  }
  SECTION("catalogue keys and aliases even when the store was never seeded") {
    Cli empty;
    const std::string f = Input(empty, "good.csv", "value,label\nA,Alpha\n");
    for (const std::string key :
         {"ethnic_category", "hospitals_england_wales",
          "accommodation_status_code"}) {
      Run r = empty({"import", key, "--name", "N", "--file", f});
      INFO(Describe(r));
      CHECK(r.code == kExitUsage);
      CHECK(Contains(r.err, "catalogue dataset"));
    }
    CHECK_FALSE(fs::exists(empty.store_));
  }
  SECTION("catalogue datasets removed from the store stay reserved") {
    Ok(cli, {"delete", "accommodation_type"});
    Refused(cli, import("accommodation_type"), {"catalogue dataset"});
  }
  SECTION("invalid syntax") {
    Refused(cli, import("My List"), {"dataset key 'My List'"});
    Refused(cli, import("_list"), {"must start with a lower-case letter or a digit"});
    Refused(cli, import("list.v2"), {"has '.' at byte 5"});
    Refused(cli, import("a/b"), {"has '/'"});
    Refused(cli, import("Upper"), {"must start with a lower-case letter"});
    Refused(cli, import(std::string(101, 'k')),
            {"is 101 bytes long; keys are at most 100"});
    Refused(cli, import(""), {"dataset key is empty"});
  }
  SECTION("--org must look like a key") {
    for (const std::string org : {"Acme", "acme corp", "../etc", "a/b", "_x"}) {
      Refused(cli, import("ok_key", {"--org", org}),
              {"--org '" + org + "' must look like a key"});
    }
    Refused(cli, {"customise", "ethnic_category", "--org", "Acme"},
            {"--org 'Acme' must look like a key"});
  }
  SECTION("digits first and dashes are fine") {
    Ok(cli, import("2024-list_a", {"--org", "9-org_x"}));
    CHECK(cli.Show("2024-list_a")["organization"] == "9-org_x");
  }
}

// ------------------------------------------------------- organisations

TEST_CASE("organisations own their datasets") {
  Cli cli;
  Seed(cli);
  const std::string v1 = Input(cli, "v1.csv", "value,label\nA,Alpha\n");
  const std::string v2 = Input(cli, "v2.csv", "value,label\nA,Alpha\nB,Beta\n");
  Run created = Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file",
                         v1, "--org", "acme"});
  CHECK(Contains(created.out, "Created acme_list: 1 options (version 1)"));
  json shown = cli.Show("acme_list");
  CHECK(shown["organization"] == "acme");
  CHECK(shown["is_global"] == false);  // private until published
  CHECK(shown["is_custom"] == false);

  SECTION("another organisation cannot import into it") {
    Refused(cli, {"import", "acme_list", "--file", v2, "--org", "beta"},
            {"'acme_list' belongs to organisation 'acme', not 'beta'"});
    CHECK(cli.Json({"history", "acme_list", "--json"}).size() == 1);
  }
  SECTION("nor can it take the key for itself with --name") {
    Refused(cli, {"import", "acme_list", "--name", "Mine", "--file", v2, "--org",
                  "beta"},
            {"belongs to organisation 'acme'"});
    CHECK(cli.Show("acme_list")["name"] == "Acme list");
  }
  SECTION("the owner can") {
    Run r = Ok(cli, {"import", "acme_list", "--file", v2, "--org", "acme"});
    CHECK(Contains(r.out, "Updated acme_list: version 2 (+1 \u22120 ~0)"));
    CHECK(cli.Show("acme_list")["organization"] == "acme");
    CHECK(cli.Show("acme_list")["is_global"] == false);
  }
  SECTION("an organisation cannot import into a global list") {
    Ok(cli, {"import", "shared", "--name", "Shared", "--file", v1});
    Refused(cli, {"import", "shared", "--file", v2, "--org", "acme"},
            {"'shared' belongs to no organisation, not 'acme'"});
  }
  SECTION("an import without --org into an organisation's list keeps its owner") {
    // The CLI has no notion of who may act for an organisation: without
    // --org the deployment's operator updates any user list. The dataset
    // stays the organisation's and private.
    Run r = Ok(cli, {"import", "acme_list", "--file", v2});
    CHECK(Contains(r.out, "Updated acme_list: version 2"));
    shown = cli.Show("acme_list");
    CHECK(shown["organization"] == "acme");
    CHECK(shown["is_global"] == false);
  }
  SECTION("the same key cannot exist twice, even for another organisation") {
    Refused(cli, {"import", "acme_list", "--name", "Beta's", "--file", v1, "--org",
                  "beta"},
            {"belongs to organisation 'acme'"});
  }
}

// ------------------------------------------------------------- customise

TEST_CASE("customise: an organisation's own version of a global dataset") {
  Cli cli;
  Seed(cli);
  Run r = Ok(cli, {"customise", "ethnic_category", "--org", "acme"});
  CHECK(Contains(r.out, "Created ethnic_category_acme for organisation acme, a "
                        "custom version of ethnic_category (version 1)"));
  CHECK(Contains(r.out, "datasnap import ethnic_category_acme --org acme --file F"));

  const json parent = cli.Show("ethnic_category");
  const json custom = cli.Show("ethnic_category_acme");
  CHECK(custom["name"] == "Ethnic Category (Custom)");
  CHECK(custom["description"] == parent["description"]);
  CHECK(custom["tags"] == parent["tags"]);
  CHECK(custom["tags"] == json::array({"demographics", "NHS"}));
  CHECK(custom["category"] == "user_created");
  CHECK(custom["is_custom"] == true);
  CHECK(custom["is_global"] == false);
  CHECK(custom["organization"] == "acme");
  CHECK(custom["parent"] == "ethnic_category");
  CHECK(custom["version"] == 1);
  CHECK(custom["options"] == parent["options"]);
  CHECK(custom["options_sha256"] == parent["options_sha256"]);
  CHECK(Contains(custom["provenance"]["note"].get<std::string>(),
                 "customised from ethnic_category version 1 by tester"));
  const json event = LastAudit(cli, "customise.created", "ethnic_category_acme");
  REQUIRE(event.is_object());
  CHECK(event["actor"] == "tester");
  CHECK(Contains(event["detail"].get<std::string>(),
                 "from ethnic_category version 1 for organisation acme"));
  // The parent is untouched.
  CHECK(cli.Show("ethnic_category") == parent);

  SECTION("editable afterwards by import; the parent link stays") {
    const std::string f = Input(cli, "ours.txt",
                                "A - White - British\nZ - Prefer not to say\n");
    Run imported = Ok(cli, {"import", "ethnic_category_acme", "--org", "acme",
                            "--file", f, "--name", "Our ethnicity"});
    CHECK(Contains(imported.out, "Updated ethnic_category_acme: version 2 "
                                 "(+0 \u22121 ~1)"));
    const json after = cli.Show("ethnic_category_acme");
    CHECK(after["parent"] == "ethnic_category");
    CHECK(after["is_custom"] == true);
    CHECK(after["organization"] == "acme");
    CHECK(after["name"] == "Our ethnicity");
    CHECK(after["options"] == json::array({Opt("A", "White - British"),
                                           Opt("Z", "Prefer not to say")}));
    Refused(cli, {"import", "ethnic_category_acme", "--org", "beta", "--file", f},
            {"belongs to organisation 'acme', not 'beta'"});
    // A later version of the parent does not touch the copy.
    Commit(cli, "ethnic_category", {O("A", "White - British")});
    CHECK(cli.Show("ethnic_category_acme")["version"] == 2);
  }
  SECTION("--key and --name; through an alias; the other spelling") {
    Commit(cli, "accommodation_status", {O("1", "Settled"), O("2", "Unsettled")});
    Ok(cli, {"customize", "accommodation_status_code", "--org", "beta", "--key",
             "beta_housing", "--name", "Housing"});
    const json c = cli.Show("beta_housing");
    CHECK(c["name"] == "Housing");
    CHECK(c["parent"] == "accommodation_status");  // the key, not the alias
    CHECK(c["organization"] == "beta");
    Ok(cli, {"customise", "accommodation_status_code", "--org", "acme"});
    CHECK(cli.Show("accommodation_status_acme")["parent"] == "accommodation_status");
    // Another organisation gets its own default key.
    Ok(cli, {"customise", "ethnic_category", "--org", "beta"});
    CHECK(cli.Show("ethnic_category_beta")["organization"] == "beta");
  }
  SECTION("refusals leave the store unchanged") {
    const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
    Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f, "--org",
             "acme"});
    // Non-global datasets: an organisation's list, a custom version.
    Refused(cli, {"customise", "acme_list", "--org", "beta"},
            {"custom versions are made of global datasets; 'acme_list' belongs "
             "to organisation 'acme'"});
    Refused(cli, {"customise", "acme_list", "--org", "acme"},
            {"custom versions are made of global datasets"});
    Refused(cli, {"customise", "ethnic_category_acme", "--org", "beta"},
            {"custom versions are made of global datasets"});
    // The default key exists already.
    Refused(cli, {"customise", "ethnic_category", "--org", "acme"},
            {"'ethnic_category_acme' exists; choose another with --key"});
    Refused(cli, {"customise", "ethnic_category", "--org", "beta", "--key",
                  "acme_list"},
            {"'acme_list' exists; choose another with --key"});
    // Catalogue keys and aliases, bad syntax.
    Refused(cli, {"customise", "ethnic_category", "--org", "beta", "--key",
                  "nhs_trusts"},
            {"'nhs_trusts' is a catalogue dataset"});
    Refused(cli, {"customise", "ethnic_category", "--org", "beta", "--key",
                  "accommodation_status_code"},
            {"older key of the catalogue dataset 'accommodation_status'"});
    Refused(cli, {"customise", "ethnic_category", "--org", "beta", "--key",
                  "Bad Key"},
            {"dataset key 'Bad Key'"});
    // No versions yet.
    Refused(cli, {"customise", "accommodation_type", "--org", "acme"},
            {"'accommodation_type' has no options yet"});
    // Unknown.
    Refused(cli, {"customise", "ethnic_categroy", "--org", "acme"},
            {"no dataset 'ethnic_categroy'; did you mean 'ethnic_category'?"});
    // No --org.
    Refused(cli, {"customise", "ethnic_category"}, {"--org"});
    // Deleted.
    Ok(cli, {"delete", "nhs_trusts"});
    Refused(cli, {"customise", "nhs_trusts", "--org", "acme"},
            {"'nhs_trusts' is deleted"});
  }
  SECTION("global user lists and published ones can be customised") {
    const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
    Ok(cli, {"import", "shared", "--name", "Shared", "--file", f});
    Ok(cli, {"customise", "shared", "--org", "acme"});
    CHECK(cli.Show("shared_acme")["name"] == "Shared (Custom)");
    Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f, "--org",
             "acme"});
    Ok(cli, {"publish", "acme_list"});
    Ok(cli, {"customise", "acme_list", "--org", "beta"});
    CHECK(cli.Show("acme_list_beta")["parent"] == "acme_list");
    CHECK(cli.Show("acme_list_beta")["organization"] == "beta");
  }
}

// --------------------------------------------------------------- publish

TEST_CASE("publish: an organisation's dataset becomes global") {
  Cli cli;
  Seed(cli);
  const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
  Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f, "--org",
           "acme"});
  Ok(cli, {"import", "shared", "--name", "Shared", "--file", f});

  CHECK(Keys(Listed(cli, {"--org", "beta"})).size() == 56);  // not acme_list
  Run r = Ok(cli, {"--actor", "alice", "publish", "acme_list"});
  CHECK(Contains(r.out, "Published acme_list: it is in the public manifest from "
                        "the next export"));
  const json shown = cli.Show("acme_list");
  CHECK(shown["is_global"] == true);
  CHECK(shown["organization"] == "acme");  // where it came from
  const json event = LastAudit(cli, "dataset.published", "acme_list");
  REQUIRE(event.is_object());
  CHECK(event["actor"] == "alice");
  CHECK(event["detail"] == "published by alice (organisation acme)");
  CHECK(Listed(cli, {"--org", "beta"}).contains("acme_list"));
  CHECK(RowOf(Ok(cli, {"list"}).out, "acme_list") ==
        std::vector<std::string>{"acme_list", "user_created",
                                 "global (from acme)", "1", "1", "Acme list"});

  // Refusals: exit 2, nothing written.
  Refused(cli, {"publish", "acme_list"}, {"'acme_list' is global already"});
  Refused(cli, {"publish", "shared"}, {"'shared' is global already"});
  Refused(cli, {"publish", "ethnic_category"},
          {"'ethnic_category' is a nhs_dd dataset from the catalogue"});
  Refused(cli, {"publish", "accommodation_status_code"},
          {"'accommodation_status' is a nhs_dd dataset"});
  Refused(cli, {"publish", "nhs_trusts"}, {"'nhs_trusts' is a rcpch dataset"});
  Refused(cli, {"publish", "nope"}, {"no dataset 'nope'"});
  Ok(cli, {"import", "gone", "--name", "Gone", "--file", f, "--org", "acme"});
  Ok(cli, {"delete", "gone"});
  Refused(cli, {"publish", "gone"}, {"'gone' is deleted"});

  SECTION("a custom version can be published") {
    Ok(cli, {"customise", "ethnic_category", "--org", "acme"});
    Ok(cli, {"publish", "ethnic_category_acme"});
    const json c = cli.Show("ethnic_category_acme");
    CHECK(c["is_global"] == true);
    CHECK(c["parent"] == "ethnic_category");
  }
}

// ---------------------------------------------------------------- delete

TEST_CASE("delete: soft, refused while custom versions depend on it") {
  Cli cli;
  Seed(cli);
  const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
  Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f, "--org",
           "acme"});

  SECTION("hidden from lists, status and exports; history kept") {
    const std::string out = cli.dir_.File("export");
    Ok(cli, {"export", "--out", out});
    CHECK(ReadJson(out + "/orgs/acme/manifest.json")["datasets"].size() == 1);

    cli.now_ += kHour;
    Run r = Ok(cli, {"delete", "acme_list", "--actor", "bob"});
    CHECK(Contains(r.out, "Deleted acme_list (hidden from lists and exports; "
                          "its history is kept)"));
    CHECK_FALSE(Listed(cli).contains("acme_list"));
    CHECK_FALSE(Listed(cli, {"--org", "acme"}).contains("acme_list"));
    CHECK_FALSE(Listed(cli, {"--category", "user_created"}).contains("acme_list"));
    CHECK(RowOf(Ok(cli, {"list"}).out, "acme_list").empty());
    CHECK_FALSE(cli.Status().contains("acme_list"));
    const json event = LastAudit(cli, "dataset.deleted", "acme_list");
    REQUIRE(event.is_object());
    CHECK(event["actor"] == "bob");
    CHECK(event["detail"] == "deleted by bob; history kept");

    // show and history still find it, with its versions (and say it is
    // inactive in --json).
    const json shown = cli.Show("acme_list");
    CHECK(shown["is_active"] == false);
    CHECK(shown["options"] == json::array({Opt("A", "Alpha")}));
    CHECK(cli.Json({"history", "acme_list", "--json"}).size() == 1);
    // The text of show says that it is deleted.
    Run text = Ok(cli, {"show", "acme_list"});
    CHECK(Contains(text.out, "Acme list (acme_list) [deleted"));
    Ok(cli, {"history", "acme_list"});

    // Not exported; --prune removes its files. The organisation keeps a
    // manifest (its clients still read one), listing global datasets only.
    Ok(cli, {"export", "--out", out, "--prune"});
    CHECK(Entry(ReadJson(out + "/manifest.json"), "acme_list") == nullptr);
    CHECK(ReadJson(out + "/orgs/acme/manifest.json")["datasets"].empty());
    for (const auto& [path, text] : ReadTree(out)) {
      INFO(path);
      if (path.starts_with("orgs/")) {
        CHECK((path == "orgs/acme/manifest.json" ||
               path == "orgs/acme/manifest.json.gz"));
      }
      CHECK_FALSE(Contains(text, "acme_list"));
    }

    // Deleted once only; nothing more can be done to it.
    Refused(cli, {"delete", "acme_list"}, {"'acme_list' is deleted already"});
    Refused(cli, {"import", "acme_list", "--file", f, "--org", "acme"},
            {"'acme_list' is deleted; import under another key"});
    Refused(cli, {"import", "acme_list", "--name", "Again", "--file", f},
            {"'acme_list' is deleted"});
    Refused(cli, {"publish", "acme_list"}, {"'acme_list' is deleted"});
  }

  SECTION("refused while custom versions depend on it, naming them") {
    Ok(cli, {"customise", "ethnic_category", "--org", "acme"});
    Ok(cli, {"customise", "ethnic_category", "--org", "beta", "--key", "b_eth"});
    Refused(
        cli, {"delete", "ethnic_category"},
        {"'ethnic_category' has custom versions that depend on it: b_eth "
         "(organisation beta), ethnic_category_acme (organisation acme); "
         "delete them first, or use --force"});
    CHECK(cli.Show("ethnic_category")["is_active"] == true);
    // Through an alias too.
    Commit(cli, "accommodation_status", {O("1", "Settled")});
    Ok(cli, {"customise", "accommodation_status", "--org", "acme"});
    Refused(cli, {"delete", "accommodation_status_code"},
            {"'accommodation_status' has custom versions that depend on it: "
             "accommodation_status_acme (organisation acme)"});

    // A deleted custom version no longer holds its parent.
    Ok(cli, {"delete", "accommodation_status_acme"});
    Ok(cli, {"delete", "accommodation_status_code"});
    CHECK(cli.Show("accommodation_status")["is_active"] == false);

    // --force: deleted; the custom versions stay, with their link.
    Run forced = Ok(cli, {"delete", "ethnic_category", "--force"});
    CHECK(Contains(forced.out, "Deleted ethnic_category"));
    CHECK(Contains(forced.err, "datasnap: warning: custom versions of "
                               "'ethnic_category' remain: b_eth (organisation "
                               "beta), ethnic_category_acme (organisation acme)"));
    CHECK(Contains(LastAudit(cli, "dataset.deleted", "ethnic_category")["detail"]
                       .get<std::string>(),
                   "forced past custom versions b_eth (organisation beta), "
                   "ethnic_category_acme (organisation acme)"));
    const json custom = cli.Show("ethnic_category_acme");
    CHECK(custom["is_active"] == true);
    CHECK(custom["parent"] == "ethnic_category");
    CHECK(custom["options"].size() == 3);
    CHECK_FALSE(Listed(cli).contains("ethnic_category"));
    CHECK(Listed(cli, {"--org", "acme"}).contains("ethnic_category_acme"));

    // Exported: the custom version with its parent link, the parent gone.
    const std::string out = cli.dir_.File("export");
    Ok(cli, {"export", "--out", out});
    CHECK(Entry(ReadJson(out + "/manifest.json"), "ethnic_category") == nullptr);
    const json acme = ReadJson(out + "/orgs/acme/manifest.json");
    const json* e = Entry(acme, "ethnic_category_acme");
    REQUIRE(e != nullptr);
    CHECK((*e)["parent"] == "ethnic_category");
    for (const json& g : acme["global"]) CHECK(g["key"] != "ethnic_category");

    // Customising a deleted dataset is refused.
    Refused(cli, {"customise", "ethnic_category", "--org", "gamma"},
            {"'ethnic_category' is deleted"});
  }

  SECTION("seeding brings a deleted catalogue dataset back, with its history") {
    Ok(cli, {"delete", "nhs_trusts"});
    CHECK_FALSE(Listed(cli).contains("nhs_trusts"));
    Ok(cli, {"seed-external"});
    const json back = cli.Show("nhs_trusts");
    CHECK(back["is_active"] == true);
    CHECK(back["version"] == 1);
  }

  SECTION("unknown datasets") {
    Refused(cli, {"delete", "acme_lsit"},
            {"no dataset 'acme_lsit'; did you mean 'acme_list'?"});
  }
}

// ----------------------------------------------------------------- audit

TEST_CASE("audit: every change names its actor") {
  Cli cli;
  Seed(cli);
  const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
  const std::string g = Input(cli, "g.csv", "value,label\nA,Alpha\nB,Beta\n");

  SECTION("--actor before the command name") {
    Ok(cli, {"--actor", "alice", "import", "l", "--name", "L", "--file", f,
             "--org", "acme"});
    for (const char* action : {"dataset.created", "import.created"}) {
      const json e = LastAudit(cli, action, "l");
      REQUIRE(e.is_object());
      CHECK(e["actor"] == "alice");
    }
    CHECK(Contains(LastAudit(cli, "import.created", "l")["detail"].get<std::string>(),
                   "by alice"));
    // The actor is in the audit log, not in the (publishable) provenance.
    CHECK_FALSE(Contains(cli.Show("l")["provenance"]["note"].get<std::string>(),
                         "alice"));
  }
  SECTION("--actor after the command name, and --actor=NAME") {
    Ok(cli, {"import", "l", "--name", "L", "--file", f, "--actor", "bob"});
    CHECK(LastAudit(cli, "import.created", "l")["actor"] == "bob");
    Ok(cli, {"import", "l", "--actor=carol", "--file", g});
    CHECK(LastAudit(cli, "import.updated", "l")["actor"] == "carol");
    Ok(cli, {"import", "l", "--file", g, "--actor", "dave"});
    CHECK(LastAudit(cli, "import.unchanged", "l")["actor"] == "dave");
    Ok(cli, {"customise", "ethnic_category", "--actor", "erin", "--org", "acme"});
    CHECK(LastAudit(cli, "customise.created")["actor"] == "erin");
    CHECK(LastAudit(cli, "dataset.created", "ethnic_category_acme")["actor"] ==
          "erin");
    Ok(cli, {"delete", "ethnic_category_acme", "--actor", "frank"});
    CHECK(LastAudit(cli, "dataset.deleted")["actor"] == "frank");
    CHECK(LastAudit(cli, "dataset.deleted")["detail"] ==
          "deleted by frank; history kept");
  }
  SECTION("default: USER, else LOGNAME") {
    Ok(cli, {"import", "l", "--name", "L", "--file", f, "--org", "acme"});
    CHECK(LastAudit(cli, "import.created", "l")["actor"] == "tester");
    cli.env_.variables.erase("USER");
    cli.env_.variables["LOGNAME"] = "logger";
    Ok(cli, {"publish", "l"});
    CHECK(LastAudit(cli, "dataset.published", "l")["actor"] == "logger");
    CHECK(LastAudit(cli, "dataset.published", "l")["detail"] ==
          "published by logger (organisation acme)");
  }
  SECTION("refusals are not audited") {
    const std::size_t before = cli.Audit().size();
    cli({"import", "ethnic_category", "--name", "X", "--file", f, "--actor", "x"});
    cli({"publish", "ethnic_category", "--actor", "x"});
    cli({"delete", "nope", "--actor", "x"});
    cli({"customise", "accommodation_type", "--org", "acme", "--actor", "x"});
    CHECK(cli.Audit().size() == before);
  }
}

// ---------------------------------------------------------- export scope

TEST_CASE("export scope: public manifest global only; orgs/<org>/ for each organisation") {
  Cli cli;
  Seed(cli);
  const std::string f1 = Input(cli, "1.csv", "value,label\nA,Alpha\n");
  const std::string f2 = Input(cli, "2.csv", "value,label\nA,Alpha\nB,Beta\n");
  Ok(cli, {"import", "shared", "--name", "Shared", "--file", f1});
  Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f1, "--org",
           "acme", "--tags", "secret"});
  Ok(cli, {"import", "acme_list", "--file", f2, "--org", "acme"});  // version 2
  Ok(cli, {"import", "beta_list", "--name", "Beta list", "--file", f1, "--org",
           "beta"});
  Ok(cli, {"customise", "ethnic_category", "--org", "acme"});

  const std::string out = cli.dir_.File("export");
  Run r = Ok(cli, {"export", "--out", out, "--fhir", "--all-versions"});
  CHECK(Contains(r.out, "Exported 3 datasets"));

  const json pub = ReadJson(out + "/manifest.json");
  CHECK(ManifestKeys(pub) ==
        std::vector<std::string>{"ethnic_category", "nhs_trusts", "shared"});
  for (const json& d : pub["datasets"]) CHECK(d["parent"].is_null());
  CHECK(json::parse(Gunzip(testing::ReadFile(out + "/manifest.json.gz"))) == pub);

  const json acme = ReadJson(out + "/orgs/acme/manifest.json");
  CHECK(acme["organization"] == "acme");
  CHECK(ManifestKeys(acme) ==
        std::vector<std::string>{"acme_list", "ethnic_category_acme"});
  const json* custom = Entry(acme, "ethnic_category_acme");
  REQUIRE(custom != nullptr);
  CHECK((*custom)["parent"] == "ethnic_category");
  CHECK((*custom)["name"] == "Ethnic Category (Custom)");
  CHECK((*custom)["tags"] == json::array({"demographics", "NHS"}));
  CHECK((*custom)["category"] == "user_created");
  CHECK((*Entry(acme, "acme_list"))["parent"].is_null());
  CHECK((*Entry(acme, "acme_list"))["version"] == 2);
  CHECK((*Entry(acme, "acme_list"))["tags"] == json::array({"secret"}));
  // The global datasets by reference, as the public manifest has them.
  REQUIRE(acme["global"].size() == pub["datasets"].size());
  for (std::size_t i = 0; i < acme["global"].size(); ++i) {
    const json& g = acme["global"][i];
    const json& p = pub["datasets"][i];
    CHECK(g == json({{"key", p["key"]}, {"version", p["version"]},
                     {"sha256", p["sha256"]}, {"manifest", "manifest.json"}}));
  }
  const json beta = ReadJson(out + "/orgs/beta/manifest.json");
  CHECK(ManifestKeys(beta) == std::vector<std::string>{"beta_list"});
  CHECK(beta["global"] == acme["global"]);

  // Every file of an organisation's dataset is under orgs/<org>/, and exists.
  const auto tree = ReadTree(out);
  for (const auto& [org, manifest] :
       std::vector<std::pair<std::string, json>>{{"acme", acme}, {"beta", beta}}) {
    for (const json& d : manifest["datasets"]) {
      const std::string key = d["key"];
      for (const std::string& p : EntryFiles(d)) {
        INFO(p);
        CHECK((p.starts_with("orgs/" + org + "/datasets/" + key + "/") ||
               p.starts_with("orgs/" + org + "/diffs/" + key + "/") ||
               p.starts_with("orgs/" + org + "/fhir/" + key + "/")));
        CHECK(tree.contains(p));
      }
    }
  }
  for (const json& d : pub["datasets"]) {
    for (const std::string& p : EntryFiles(d)) {
      INFO(p);
      CHECK_FALSE(p.starts_with("orgs/"));
      CHECK(tree.contains(p));
    }
  }
  // The diff of acme_list and its older snapshot are the organisation's.
  CHECK(Entry(acme, "acme_list")->at("diffs").size() == 1);
  CHECK(Entry(acme, "acme_list")->at("older_snapshots").size() == 1);

  // No file outside an organisation's folder names its datasets; nothing
  // of one organisation is in another's.
  for (const auto& [path, text] : tree) {
    INFO(path);
    if (!path.starts_with("orgs/acme/")) {
      CHECK_FALSE(Contains(text, "acme_list"));
      CHECK_FALSE(Contains(text, "ethnic_category_acme"));
    }
    if (!path.starts_with("orgs/beta/")) CHECK_FALSE(Contains(text, "beta_list"));
    CHECK_FALSE(path.starts_with("datasets/acme_list"));
    CHECK_FALSE(path.starts_with("datasets/ethnic_category_acme"));
    CHECK_FALSE(path.starts_with("datasets/beta_list"));
  }
  // The custom version's snapshot: its own key, the parent's options.
  for (const auto& [path, text] : tree) {
    if (!path.starts_with("orgs/acme/datasets/ethnic_category_acme/1.") ||
        !path.ends_with(".json.zst")) {
      continue;
    }
    const json snapshot = json::parse(text);
    CHECK(snapshot["key"] == "ethnic_category_acme");
    CHECK(snapshot["options"] == Options(cli, "ethnic_category"));
  }

  SECTION("published: public from the next export, a reference for the owner") {
    Ok(cli, {"publish", "acme_list"});
    Ok(cli, {"export", "--out", out});
    const json pub2 = ReadJson(out + "/manifest.json");
    CHECK(ManifestKeys(pub2) == std::vector<std::string>{
                                    "acme_list", "ethnic_category",
                                    "nhs_trusts", "shared"});
    const json* e = Entry(pub2, "acme_list");
    REQUIRE(e != nullptr);
    for (const std::string& p : EntryFiles(*e)) {
      INFO(p);
      CHECK((p.starts_with("datasets/acme_list/") ||
             p.starts_with("diffs/acme_list/")));
    }
    const json acme2 = ReadJson(out + "/orgs/acme/manifest.json");
    CHECK(ManifestKeys(acme2) == std::vector<std::string>{"ethnic_category_acme"});
    bool referenced = false;
    for (const json& g : acme2["global"]) referenced |= g["key"] == "acme_list";
    CHECK(referenced);
    bool in_beta = false;
    const json beta2 = ReadJson(out + "/orgs/beta/manifest.json");
    for (const json& g : beta2["global"]) {
      in_beta |= g["key"] == "acme_list";
    }
    CHECK(in_beta);
  }
}

// --------------------------------------- regressions of faults found here

// An organisation's manifest used to be written only while the
// organisation had a dataset to publish privately: when its last one was
// deleted (or published), the old orgs/<org>/manifest.json stayed, listing
// the deleted dataset with stale "global" references.
TEST_CASE("export: orgs/<org>/manifest.json follows the deletion of its last dataset") {
  Cli cli;
  Seed(cli);
  const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
  Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f, "--org",
           "acme"});
  const std::string out = cli.dir_.File("export");
  Ok(cli, {"export", "--out", out});
  Ok(cli, {"delete", "acme_list"});
  Commit(cli, "ethnic_category", {O("A", "White - British")});  // version 2
  Ok(cli, {"export", "--out", out});  // no --prune
  const json acme = ReadJson(out + "/orgs/acme/manifest.json");
  CHECK(Entry(acme, "acme_list") == nullptr);
  bool current = false;
  for (const json& g : acme["global"]) {
    current |= g["key"] == "ethnic_category" && g["version"] == 2;
  }
  CHECK(current);
}

TEST_CASE("export: orgs/<org>/manifest.json follows the publication of its last dataset") {
  Cli cli;
  Seed(cli);
  const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
  Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f, "--org",
           "acme"});
  const std::string out = cli.dir_.File("export");
  Ok(cli, {"export", "--out", out});
  Ok(cli, {"publish", "acme_list"});
  Ok(cli, {"export", "--out", out});
  CHECK(Entry(ReadJson(out + "/manifest.json"), "acme_list") != nullptr);
  // The organisation's manifest still lists it as its own, private dataset
  // (files under orgs/acme/), and has no reference to it as a global one.
  const json acme = ReadJson(out + "/orgs/acme/manifest.json");
  CHECK(Entry(acme, "acme_list") == nullptr);
}

// An unchanged re-import stores the file's bytes in the raw table although
// no version points at them (refresh keeps a raw body only with a new
// version, for this reason): every unchanged re-import from other bytes
// grows the store for nothing.
TEST_CASE("re-import: unchanged content keeps no raw body") {
  Cli cli;
  Seed(cli);
  const std::string v1 = Input(cli, "l.csv", "value,label\n01,One\n");
  Ok(cli, {"import", "my_list", "--name", "My list", "--file", v1});
  const std::string same_bytes = "{\"01\": \"One\"}";
  const std::string same = Input(cli, "same.json", same_bytes);
  Run r = Ok(cli, {"import", "my_list", "--file", same});
  REQUIRE(Contains(r.out, "Unchanged: my_list (version 1)"));
  StoreOptions so;
  so.read_only = true;
  auto store = Store::Open(cli.store_, so);
  REQUIRE(store.has_value());
  auto raw = (*store)->Read([&](const ReadTxn& txn) {
    return txn.GetRaw(Sha256Hex(same_bytes));
  });
  REQUIRE(raw.has_value());
  CHECK_FALSE(raw->has_value());
}

// ------------------------------------------------------------- list --org

TEST_CASE("list --org: the global datasets and the organisation's own") {
  Cli cli;
  Seed(cli);
  const std::string f = Input(cli, "l.csv", "value,label\nA,Alpha\n");
  Ok(cli, {"import", "shared", "--name", "Shared", "--file", f});
  Ok(cli, {"import", "acme_list", "--name", "Acme list", "--file", f, "--org",
           "acme"});
  Ok(cli, {"import", "beta_list", "--name", "Beta list", "--file", f, "--org",
           "beta"});
  Ok(cli, {"customise", "ethnic_category", "--org", "acme"});

  const auto all = Listed(cli);
  CHECK(all.size() == 59);  // everything active, whoever owns it
  const auto acme = Listed(cli, {"--org", "acme"});
  CHECK(acme.size() == 58);
  CHECK(acme.contains("acme_list"));
  CHECK(acme.contains("ethnic_category_acme"));
  CHECK(acme.contains("shared"));
  CHECK(acme.contains("ethnic_category"));
  CHECK_FALSE(acme.contains("beta_list"));
  CHECK(acme.at("ethnic_category_acme")["parent"] == "ethnic_category");
  const auto beta = Listed(cli, {"--org", "beta"});
  CHECK(beta.size() == 57);
  CHECK(beta.contains("beta_list"));
  CHECK_FALSE(beta.contains("acme_list"));
  CHECK_FALSE(beta.contains("ethnic_category_acme"));
  CHECK(Listed(cli, {"--org", "nobody"}).size() == 56);

  CHECK(Keys(Listed(cli, {"--org", "acme", "--category", "user_created"})) ==
        std::vector<std::string>{"acme_list", "ethnic_category_acme", "shared"});

  Run text = Ok(cli, {"list", "--org", "acme"});
  CHECK(RowOf(text.out, "acme_list") ==
        std::vector<std::string>{"acme_list", "user_created", "org acme", "1",
                                 "1", "Acme list"});
  CHECK(RowOf(text.out, "shared") ==
        std::vector<std::string>{"shared", "user_created", "global", "1", "1",
                                 "Shared"});
  CHECK(RowOf(text.out, "beta_list").empty());
  CHECK(Contains(text.out, "58 dataset(s)"));
  // --org after the command's other flags, and with --org=.
  CHECK(Listed(cli, {"--org=beta"}).size() == 57);
}

}  // namespace
}  // namespace datasnap
