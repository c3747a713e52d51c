// The YAML view the policy readers stand on: libyaml's events made into
// one table of nodes. What the loader relies on, and what a hostile file
// could try (aliases that loop, a second document, odd nulls).
#include <catch2/catch.hpp>

#include <string>

#include "agentd/policy/yaml_tree.hpp"

using agentd::policy::YamlTree;

TEST_CASE("yaml tree: mappings, sequences, scalars and their positions") {
  auto [tree, error] = YamlTree::parse("a: 1\nlist:\n  - x\n  - {k: v}\nempty:\nquoted: \"null\"\ntilde: ~\n");
  REQUIRE(tree);
  const auto root = tree->root();
  REQUIRE(root.is_map());
  CHECK(root.size() == 5);
  CHECK(root["a"].scalar() == "1");
  CHECK(root["a"].line() == 1);
  CHECK(root["a"].column() == 4);
  const auto items = root["list"].items();
  REQUIRE(items.size() == 2);
  CHECK(items[0].scalar() == "x");
  CHECK(items[1]["k"].scalar() == "v");
  CHECK(items[1].line() == 4);
  CHECK(root["empty"].is_null());
  CHECK_FALSE(root["empty"].is_scalar());
  CHECK_FALSE(root["quoted"].is_null());  // a quoted "null" is text
  CHECK(root["quoted"].scalar() == "null");
  CHECK(root["tilde"].is_null());
  CHECK_FALSE(root["missing"]);
  CHECK(root.pairs()[1].first.scalar() == "list");
}

TEST_CASE("yaml tree: an alias is its anchored node, and an undefined one is an error where it is") {
  auto [tree, error] = YamlTree::parse("ports: &web [80, 443]\nagain: *web\n");
  REQUIRE(tree);
  CHECK(tree->root()["again"].size() == 2);
  CHECK(tree->root()["again"].items()[1].scalar() == "443");

  auto [undefined, problem] = YamlTree::parse("a: 1\nb: *nothing\n");
  CHECK_FALSE(undefined);
  CHECK(problem.line == 2);
  CHECK(problem.column == 4);
  CHECK(problem.message.find("undefined alias") != std::string::npos);
  CHECK(problem.message.find("quote it") != std::string::npos);

  auto [wildcard, hint] = YamlTree::parse("host: *.github.com\n");
  CHECK_FALSE(wildcard);
  CHECK(hint.column == 7);
  CHECK(hint.message.find("host: \"*.example.com\"") != std::string::npos);
}

TEST_CASE("yaml tree: hostile shapes are refused, not followed") {
  // An alias inside the node it names would make the tree a cycle that a
  // reader walking it never leaves.
  auto [cycle, why] = YamlTree::parse("rules: &r\n  - *r\n");
  CHECK_FALSE(cycle);
  CHECK(why.message.find("cycle") != std::string::npos);
  auto [mapping_cycle, also] = YamlTree::parse("a: &m {b: *m}\n");
  CHECK_FALSE(mapping_cycle);

  auto [twice, duplicate] = YamlTree::parse("a: &x 1\nb: &x 2\n");
  CHECK_FALSE(twice);
  CHECK(duplicate.message.find("duplicate anchor") != std::string::npos);
  CHECK(duplicate.line == 2);

  // The first document only, as libyaml's loader reads it.
  auto [first, none] = YamlTree::parse("a: 1\n---\nb: 2\n");
  REQUIRE(first);
  CHECK(first->root()["a"].scalar() == "1");
  CHECK_FALSE(first->root()["b"]);

  auto [empty, nothing] = YamlTree::parse("");
  REQUIRE(empty);
  CHECK_FALSE(empty->root());
  auto [comment, only] = YamlTree::parse("# nothing here\n");
  REQUIRE(comment);
  CHECK_FALSE(comment->root());

  auto [broken, syntax] = YamlTree::parse("a: [1, 2\n");
  CHECK_FALSE(broken);
  CHECK_FALSE(syntax.message.empty());
}

namespace {

// "b: [*a, *a, ...]": `uses` references to a list of `items` scalars.
std::string list_used(int items, int uses) {
  std::string text = "a: &a [";
  for (int i = 0; i < items; ++i) text += (i ? ", " : "") + std::to_string(i);
  text += "]\nb: [";
  for (int i = 0; i < uses; ++i) text += i ? ", *a" : "*a";
  return text + "]\n";
}

}  // namespace

TEST_CASE("yaml tree: references may repeat nodes up to a limit, never a billion laughs") {
  // Nested references: nine lines that a reader would walk as a billion
  // nodes (each level repeats the one before ten times).
  std::string laughs = "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int level = 1; level < 9; ++level) {
    laughs += "l" + std::to_string(level) + ": &l" + std::to_string(level) + " [";
    for (int i = 0; i < 10; ++i) laughs += (i ? ", *l" : "*l") + std::to_string(level - 1);
    laughs += "]\n";
  }
  auto [laughed, why] = YamlTree::parse(laughs);
  CHECK_FALSE(laughed);
  CHECK(why.message.find("would add more than 8388608 nodes") != std::string::npos);
  CHECK(why.message.find("quote it") == std::string::npos);  // not the wildcard hint
  // l5 is 1,111,111 nodes: the eighth of l6's references to it (line 7)
  // passes the limit, and is where the error is.
  CHECK(why.line == 7);
  CHECK(why.column == 45);

  // The limit is on the nodes repeated: a list of 999 numbers (1,000 nodes)
  // used 8,388 times adds 8,388,000, within 8,388,608; once more is past it.
  auto [within, fine] = YamlTree::parse(list_used(999, 8388));
  REQUIRE(within);
  CHECK(within->root()["b"].size() == 8388);
  CHECK(within->root()["b"].items()[8387].items()[998].scalar() == "998");
  auto [past, refused] = YamlTree::parse(list_used(999, 8389));
  CHECK_FALSE(past);
  CHECK(refused.line == 2);

  // Nested collections count their own references once, wherever used.
  auto [nested, ok] = YamlTree::parse("p: &p [80, 443]\nr: &r {ports: *p}\nall: [*r, *r, {x: *r}]\n");
  REQUIRE(nested);
  CHECK(nested->root()["all"].items()[2]["x"]["ports"].items()[1].scalar() == "443");
}
