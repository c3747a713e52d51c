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
