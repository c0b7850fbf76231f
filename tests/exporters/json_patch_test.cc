#include "exporters/json_patch.h"
#include "tests/exporters/json_patch_apply.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/options_diff.h"

namespace datasnap {
namespace {

OptionList List(std::vector<Option> options) {
  auto list = OptionList::Make(std::move(options));
  REQUIRE(list.has_value());
  return std::move(*list);
}

// JSON objects are unordered: compare through std::map-backed json.
nlohmann::json Unordered(const OrderedJson& j) {
  return nlohmann::json::parse(j.dump());
}

Option Opt(std::string value, std::string label,
           std::optional<std::string> parent = std::nullopt,
           bool is_default = false) {
  return Option{std::move(value), std::move(label), std::move(parent),
                is_default};
}

// Applies the patch of (before, after) to before's document and checks it
// gives after's document; returns the patched document.
OrderedJson CheckRoundTrip(const OptionList& before, const OptionList& after) {
  const OrderedJson patch = OptionsJsonPatch(DiffOptions(before, after));
  auto patched = ApplyJsonPatch(OptionsKeyedByValue(before), patch);
  INFO("patch: " << patch.dump());
  REQUIRE(patched.has_value());
  CHECK(Unordered(*patched) == Unordered(OptionsKeyedByValue(after)));
  return *patched;
}

TEST_CASE("OptionsKeyedByValue keys each option's body by its value") {
  const OptionList list = List({Opt("01", "Yes"), Opt("A1", "Ward", "01"),
                                Opt("99", "Not known", std::nullopt, true)});
  CHECK(OptionsKeyedByValue(list).dump() ==
        R"({"01":{"label":"Yes"},"A1":{"label":"Ward","parent":"01"},)"
        R"("99":{"label":"Not known","default":true}})");
  CHECK(OptionsKeyedByValue(OptionList()).dump() == "{}");
}

TEST_CASE("EscapeJsonPointerToken follows RFC 6901") {
  struct Case {
    std::string in, out;
  };
  const Case cases[] = {
      {"", ""},       {"abc", "abc"},       {"a/b", "a~1b"},
      {"~", "~0"},    {"~1", "~01"},        {"/", "~1"},
      {"~/", "~0~1"}, {"a/b~c", "a~1b~0c"}, {"é/日本", "é~1日本"},
  };
  for (const Case& c : cases) {
    INFO(c.in);
    CHECK(EscapeJsonPointerToken(c.in) == c.out);
  }
}

TEST_CASE("OptionsJsonPatch writes the exact operations") {
  const OptionList before =
      List({Opt("1", "One"), Opt("2", "Two"), Opt("a/b", "Slash"),
            Opt("3", "Three", "1"), Opt("9", "Not known", std::nullopt, true),
            Opt("~x", "Tilde")});
  const OptionList after =
      List({Opt("1", "One"), Opt("new/1", "Added first"),
            Opt("3", "Three!", std::nullopt),  // relabel, drop parent
            Opt("9", "Not known"),             // default cleared
            Opt("~x", "Tilde", "9", true),     // parent and default
            Opt("2b", "Added last", "1")});
  const OrderedJson patch = OptionsJsonPatch(DiffOptions(before, after));
  CHECK(
      patch.dump() ==
      R"([{"op":"remove","path":"/2"},)"
      R"({"op":"remove","path":"/a~1b"},)"
      R"({"op":"replace","path":"/3/label","value":"Three!"},)"
      R"({"op":"remove","path":"/3/parent"},)"
      R"({"op":"remove","path":"/9/default"},)"
      R"({"op":"add","path":"/~0x/parent","value":"9"},)"
      R"({"op":"add","path":"/~0x/default","value":true},)"
      R"({"op":"add","path":"/new~11","value":{"label":"Added first"}},)"
      R"({"op":"add","path":"/2b","value":{"label":"Added last","parent":"1"}}])");
  CheckRoundTrip(before, after);
}

TEST_CASE("OptionsJsonPatch replaces a parent that changes") {
  const OptionList before =
      List({Opt("1", "One"), Opt("2", "Two"), Opt("3", "Three", "1")});
  const OptionList after =
      List({Opt("1", "One"), Opt("2", "Two"), Opt("3", "Three", "2")});
  CHECK(OptionsJsonPatch(DiffOptions(before, after)).dump() ==
        R"([{"op":"replace","path":"/3/parent","value":"2"}])");
}

TEST_CASE("OptionsJsonPatch of an empty or order-only diff is empty") {
  const OptionList list = List({Opt("1", "One"), Opt("2", "Two")});
  const OptionList swapped = List({Opt("2", "Two"), Opt("1", "One")});
  CHECK(OptionsJsonPatch(DiffOptions(list, list)).dump() == "[]");
  CHECK(OptionsJsonPatch(DiffOptions(list, swapped)).dump() == "[]");
  CHECK(OptionsJsonPatch(OptionsDiff{}).dump() == "[]");
}

TEST_CASE("OptionsJsonPatch escapes an empty value as the member \"\"") {
  // OptionList refuses empty values; a hand-made diff still escapes right.
  OptionsDiff diff;
  diff.removed.push_back(Opt("", "Empty"));
  diff.added.push_back(Opt("/", "Slash"));
  const OrderedJson patch = OptionsJsonPatch(diff);
  CHECK(patch.dump() ==
        R"([{"op":"remove","path":"/"},)"
        R"({"op":"add","path":"/~1","value":{"label":"Slash"}}])");
  auto doc =
      ApplyJsonPatch(OrderedJson::parse(R"({"":{"label":"Empty"}})"), patch);
  REQUIRE(doc.has_value());
  CHECK(doc->dump() == R"({"/":{"label":"Slash"}})");
}

TEST_CASE("Patches turn before into after for a table of list pairs") {
  struct Case {
    const char* name;
    std::vector<Option> before, after;
  };
  const std::vector<Case> cases = {
      {"both empty", {}, {}},
      {"from empty", {}, {Opt("1", "One"), Opt("2", "Two", "1")}},
      {"to empty", {Opt("1", "One"), Opt("2", "Two", "1")}, {}},
      {"identical",
       {Opt("a/b", "x"), Opt("~1", "y")},
       {Opt("a/b", "x"), Opt("~1", "y")}},
      {"all replaced",
       {Opt("1", "One"), Opt("2", "Two")},
       {Opt("3", "Three"), Opt("4", "Four")}},
      {"awkward values",
       {Opt("a/b", "Slash"), Opt("~1", "Tilde one"), Opt("~", "T"),
        Opt("/", "S"), Opt("é", "e acute"), Opt("日本", "Japan")},
       {Opt("~1", "Tilde one, relabelled"), Opt("~01", "New", "~1"),
        Opt("/", "S", std::nullopt, true), Opt("日本", "Japan", "/"),
        Opt("🙂", "Smile")}},
      {"members named like body fields",
       {Opt("label", "L"), Opt("parent", "P", "label")},
       {Opt("parent", "P"), Opt("default", "D", "parent", true)}},
      {"reordered and relabelled",
       {Opt("1", "One"), Opt("2", "Two"), Opt("3", "Three")},
       {Opt("3", "Three"), Opt("1", "Uno"), Opt("2", "Two")}},
  };
  for (const Case& c : cases) {
    SECTION(c.name) { CheckRoundTrip(List(c.before), List(c.after)); }
  }
}

TEST_CASE("Without additions or moves, the patch keeps the member order") {
  const OptionList before =
      List({Opt("1", "One"), Opt("2", "Two"), Opt("3", "Three")});
  const OptionList after = List({Opt("1", "One"), Opt("3", "Drei", "1")});
  const OrderedJson patched = CheckRoundTrip(before, after);
  CHECK(patched.dump() == OptionsKeyedByValue(after).dump());
}

// Awkward values: JSON Pointer's special characters, digits that look like
// array indices, names of the body's own members, non-ASCII text.
const std::vector<std::string>& ValuePool() {
  static const std::vector<std::string> pool = {
      "a/b",     "~1",   "~0",  "~",   "/",  "//",    "~01",
      "a~b/c",   "0",    "01",  "-",   "1",  "label", "parent",
      "default", "null", " ",   "a b", "é",  "日本",  "🙂",
      "\"q\"",   "\\",   "x.y", "A1",  "A2", "B1",    "ü/~",
  };
  return pool;
}

const std::vector<std::string>& LabelPool() {
  static const std::vector<std::string> pool = {
      "One", "Two", "Not known", "Ysbyty Gwynedd", "São Paulo", "a/b ~0",
  };
  return pool;
}

template <typename T>
const T& Pick(const std::vector<T>& v, std::mt19937& rng) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

bool Chance(std::mt19937& rng, double p) {
  return std::bernoulli_distribution(p)(rng);
}

// Gives each option a parent (from the list, not itself) with chance p;
// keeps a parent that is still valid with chance `keep`.
void AssignParents(std::vector<Option>& options, std::mt19937& rng, double p,
                   double keep) {
  std::vector<std::string> values;
  for (const Option& o : options) values.push_back(o.value);
  for (Option& o : options) {
    const bool valid =
        o.parent && *o.parent != o.value &&
        std::find(values.begin(), values.end(), *o.parent) != values.end();
    if (valid && Chance(rng, keep)) continue;
    o.parent.reset();
    if (values.size() > 1 && Chance(rng, p)) {
      std::string parent;
      do parent = Pick(values, rng);
      while (parent == o.value);
      o.parent = parent;
    }
  }
}

std::vector<Option> RandomList(std::mt19937& rng) {
  std::vector<std::string> values = ValuePool();
  std::shuffle(values.begin(), values.end(), rng);
  values.resize(std::uniform_int_distribution<std::size_t>(0, 12)(rng));
  std::vector<Option> options;
  for (const std::string& v : values) {
    options.push_back(
        Opt(v, Pick(LabelPool(), rng), std::nullopt, Chance(rng, 0.15)));
  }
  AssignParents(options, rng, 0.3, 0.0);
  return options;
}

// `before` with options removed, relabelled, re-flagged, added and moved.
std::vector<Option> Mutate(std::vector<Option> options, std::mt19937& rng) {
  std::vector<Option> out;
  for (Option& o : options) {
    if (Chance(rng, 0.2)) continue;  // removed
    if (Chance(rng, 0.2)) o.label = Pick(LabelPool(), rng);
    if (Chance(rng, 0.1)) o.is_default = !o.is_default;
    out.push_back(std::move(o));
  }
  const int additions = std::uniform_int_distribution<int>(0, 4)(rng);
  for (int i = 0; i < additions; ++i) {
    const std::string& v = Pick(ValuePool(), rng);
    bool taken = false;
    for (const Option& o : out) taken = taken || o.value == v;
    if (taken) continue;
    const std::size_t at =
        std::uniform_int_distribution<std::size_t>(0, out.size())(rng);
    out.insert(out.begin() + static_cast<std::ptrdiff_t>(at),
               Opt(v, Pick(LabelPool(), rng)));
  }
  if (out.size() > 1 && Chance(rng, 0.2))
    std::shuffle(out.begin(), out.end(), rng);
  AssignParents(out, rng, 0.2, 0.8);
  return out;
}

TEST_CASE("Patches turn before into after for random list pairs") {
  constexpr int kPairs = 2000;
  int nonempty = 0;
  for (int seed = 1; seed <= kPairs; ++seed) {
    std::mt19937 rng(static_cast<std::mt19937::result_type>(seed));
    const std::vector<Option> before = RandomList(rng);
    // Half the pairs are related (a mutation), half independent.
    const std::vector<Option> after =
        Chance(rng, 0.5) ? Mutate(before, rng) : RandomList(rng);
    INFO("seed " << seed);
    const OptionList b = List(before), a = List(after);
    const OrderedJson patch = OptionsJsonPatch(DiffOptions(b, a));
    nonempty += !patch.empty();
    auto patched = ApplyJsonPatch(OptionsKeyedByValue(b), patch);
    INFO("patch: " << patch.dump());
    REQUIRE(patched.has_value());
    REQUIRE(Unordered(*patched) == Unordered(OptionsKeyedByValue(a)));
    // The same diff always gives the same bytes.
    REQUIRE(OptionsJsonPatch(DiffOptions(b, a)).dump() == patch.dump());
  }
  CHECK(nonempty > kPairs / 2);
}

TEST_CASE("ApplyJsonPatch applies add, remove, replace and test") {
  const OrderedJson doc =
      OrderedJson::parse(R"({"a":{"label":"A","n":1},"b/c":{"label":"B"}})");
  struct Case {
    const char* name;
    const char* patch;
    const char* expected;
  };
  const Case cases[] = {
      {"empty patch", "[]", R"({"a":{"label":"A","n":1},"b/c":{"label":"B"}})"},
      {"add a member", R"([{"op":"add","path":"/~0","value":{"label":"T"}}])",
       R"({"a":{"label":"A","n":1},"b/c":{"label":"B"},"~":{"label":"T"}})"},
      {"add over an existing member replaces it",
       R"([{"op":"add","path":"/a","value":3}])",
       R"({"a":3,"b/c":{"label":"B"}})"},
      {"add a nested member",
       R"([{"op":"add","path":"/b~1c/default","value":true}])",
       R"({"a":{"label":"A","n":1},"b/c":{"label":"B","default":true}})"},
      {"remove", R"([{"op":"remove","path":"/b~1c"}])",
       R"({"a":{"label":"A","n":1}})"},
      {"replace", R"([{"op":"replace","path":"/a/label","value":"Z"}])",
       R"({"a":{"label":"Z","n":1},"b/c":{"label":"B"}})"},
      {"test ignores member order and number type",
       R"([{"op":"test","path":"/a","value":{"n":1.0,"label":"A"}}])",
       R"({"a":{"label":"A","n":1},"b/c":{"label":"B"}})"},
      {"replace the whole document",
       R"([{"op":"replace","path":"","value":{"x":1}}])", R"({"x":1})"},
      {"test the whole document",
       R"([{"op":"test","path":"","value":{"b/c":{"label":"B"},"a":{"n":1,"label":"A"}}}])",
       R"({"a":{"label":"A","n":1},"b/c":{"label":"B"}})"},
      {"the empty member name",
       R"([{"op":"add","path":"/","value":0},{"op":"test","path":"/","value":0}])",
       R"({"a":{"label":"A","n":1},"b/c":{"label":"B"},"":0})"},
      {"operations apply in turn",
       R"([{"op":"remove","path":"/a"},{"op":"add","path":"/a","value":2},)"
       R"({"op":"replace","path":"/a","value":3}])",
       R"({"b/c":{"label":"B"},"a":3})"},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      auto result = ApplyJsonPatch(doc, OrderedJson::parse(c.patch));
      REQUIRE(result.has_value());
      CHECK(result->dump() == c.expected);
    }
  }
}

TEST_CASE("ApplyJsonPatch names the failing operation") {
  const OrderedJson doc =
      OrderedJson::parse(R"({"a":{"label":"A"},"s":"text","arr":[1,2]})");
  struct Case {
    const char* patch;
    const char* message;
  };
  const Case cases[] = {
      {R"({"op":"remove","path":"/a"})",
       "JSON Patch: expected an array of operations, found object"},
      {R"([{"op":"test","path":"/a","value":{"label":"A"}},"remove"])",
       "JSON Patch operation 1: expected an object, found string"},
      {R"([{"path":"/a"}])",
       "JSON Patch operation 0: \"op\" is missing or not a string"},
      {R"([{"op":"remove"}])",
       "JSON Patch operation 0: \"path\" is missing or not a string"},
      {R"([{"op":"remove","path":7}])",
       "JSON Patch operation 0: \"path\" is missing or not a string"},
      {R"([{"op":"move","from":"/a","path":"/b"}])",
       "JSON Patch operation 0 (move \"/b\"): unsupported operation (add, "
       "remove, replace and test are)"},
      {R"([{"op":"add","path":"/b"}])",
       "JSON Patch operation 0 (add \"/b\"): \"value\" is missing"},
      {R"([{"op":"remove","path":"a"}])",
       "JSON Patch operation 0 (remove \"a\"): not a JSON Pointer (it must be "
       "empty or start with '/', and '~' must be followed by 0 or 1)"},
      {R"([{"op":"remove","path":"/~2"}])",
       "JSON Patch operation 0 (remove \"/~2\"): not a JSON Pointer (it must "
       "be empty or start with '/', and '~' must be followed by 0 or 1)"},
      {R"([{"op":"remove","path":"/a~"}])",
       "JSON Patch operation 0 (remove \"/a~\"): not a JSON Pointer (it must "
       "be empty or start with '/', and '~' must be followed by 0 or 1)"},
      {R"([{"op":"remove","path":"/a"},{"op":"remove","path":"/a"}])",
       "JSON Patch operation 1 (remove \"/a\"): no member \"a\" in the "
       "document"},
      {R"([{"op":"replace","path":"/a/parent","value":"x"}])",
       "JSON Patch operation 0 (replace \"/a/parent\"): no member \"parent\" "
       "in /a"},
      {R"([{"op":"add","path":"/zz/label","value":"x"}])",
       "JSON Patch operation 0 (add \"/zz/label\"): no member \"zz\" in the "
       "document"},
      {R"([{"op":"add","path":"/s/x","value":1}])",
       "JSON Patch operation 0 (add \"/s/x\"): /s is string, not an object"},
      {R"([{"op":"add","path":"/arr/0","value":1}])",
       "JSON Patch operation 0 (add \"/arr/0\"): /arr is array, not an "
       "object"},
      {R"([{"op":"test","path":"/a/label","value":"B"}])",
       "JSON Patch operation 0 (test \"/a/label\"): test failed"},
      {R"([{"op":"test","path":"","value":{}}])",
       "JSON Patch operation 0 (test \"\"): test failed"},
      {R"([{"op":"remove","path":""}])",
       "JSON Patch operation 0 (remove \"\"): cannot remove the whole "
       "document"},
  };
  for (const Case& c : cases) {
    INFO(c.patch);
    auto result = ApplyJsonPatch(doc, OrderedJson::parse(c.patch));
    REQUIRE_FALSE(result.has_value());
    CHECK(result.error().code == ErrorCode::kInvalidArgument);
    CHECK(result.error().message == c.message);
  }
}

TEST_CASE("ApplyJsonPatch on a non-object document") {
  auto result =
      ApplyJsonPatch(OrderedJson::array(),
                     OrderedJson::parse(R"([{"op":"remove","path":"/0"}])"));
  REQUIRE_FALSE(result.has_value());
  CHECK(result.error().message ==
        "JSON Patch operation 0 (remove \"/0\"): the document is array, not "
        "an object");
}

}  // namespace
}  // namespace datasnap
