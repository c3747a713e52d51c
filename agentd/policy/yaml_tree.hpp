// A read-only view of one YAML document parsed by libyaml.
//
// libyaml rather than yaml-cpp: a 100,000-rule policy parses several
// times faster, and reload time is what operators wait for. The document
// is built from libyaml's events into one table of compact nodes and one
// buffer of scalar text, not libyaml's own document (a node and a heap
// string per scalar): at 100,000 rules that halves the parse and takes
// a fifth of the memory, which is what a 1,000,000-rule reload peaks on.
// The view gives the loader what it needs and nothing else: the kind of a
// node, its text, its position (1-based, for file:line:column errors),
// mapping lookup and iteration.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace agentd::policy {

class YamlTree;

class YamlNode {
 public:
  YamlNode() = default;

  // False for a key that is not there.
  explicit operator bool() const { return tree_ != nullptr; }
  // Plain empty, ~ and null scalars are null, as YAML's core schema says.
  bool is_null() const;
  bool is_scalar() const;
  bool is_sequence() const;
  bool is_map() const;

  std::string_view scalar() const;
  int line() const;
  int column() const;

  // The value of a mapping's key (the first, if repeated), or an empty node.
  YamlNode operator[](std::string_view key) const;
  // A sequence's items; empty for other kinds.
  std::vector<YamlNode> items() const;
  // A mapping's key/value pairs in order; empty for other kinds.
  std::vector<std::pair<YamlNode, YamlNode>> pairs() const;
  size_t size() const;

 private:
  friend class YamlTree;
  YamlNode(const YamlTree* tree, uint32_t index) : tree_(tree), index_(index) {}
  const YamlTree* tree_ = nullptr;
  uint32_t index_ = 0;
};

struct YamlError {
  int line = 1, column = 1;
  std::string message;
};

// Owns the parsed document; its nodes live as long as it does.
class YamlTree {
 public:
  // Parses the first document of `text`; on error, where and why.
  static std::pair<std::unique_ptr<YamlTree>, YamlError> parse(std::string_view text);
  YamlTree(const YamlTree&) = delete;
  YamlTree& operator=(const YamlTree&) = delete;

  // At most this many nodes more than the file writes, through
  // references (*name): each repeats the node it names, and readers walk
  // every repetition, so a few lines of nested references ("billion
  // laughs") would otherwise hold a reload for hours and its memory. A
  // policy's real use (a list of ports or of addresses named once and used
  // by many rules) adds far fewer: 1,000,000 rules each naming a
  // four-node list add 4,000,000.
  static constexpr uint64_t kMaxReferencedNodes = uint64_t{1} << 23;

  // An empty node for an empty file.
  YamlNode root() const { return nodes_.empty() ? YamlNode() : YamlNode(this, root_); }

 private:
  friend class YamlNode;
  enum class Kind : uint8_t { scalar, sequence, mapping };
  struct Node {
    Kind kind;
    bool plain;             // a plain scalar (unquoted, not a block scalar): only those can be null
    uint32_t line, column;  // 0-based, as libyaml counts
    // A scalar's text in text_; a collection's children in children_
    // (a mapping's as key, value, key, value...).
    uint32_t begin, count;
  };
  struct Builder;

  YamlTree() = default;
  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;
  std::string text_;
  uint32_t root_ = 0;
};

}  // namespace agentd::policy
