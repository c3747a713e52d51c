#include "agentd/policy/yaml_tree.hpp"

#include <yaml.h>

#include <unordered_map>

#include <fmt/format.h>

namespace agentd::policy {

// YamlNode: reads of the tree's table.

bool YamlNode::is_null() const {
  if (!tree_) return false;
  const auto& node = tree_->nodes_[index_];
  if (node.kind != YamlTree::Kind::scalar || !node.plain) return false;
  const std::string_view text = std::string_view(tree_->text_).substr(node.begin, node.count);
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

// A null is not a value: "must be a single value" is what the readers say.
bool YamlNode::is_scalar() const { return tree_ && tree_->nodes_[index_].kind == YamlTree::Kind::scalar && !is_null(); }
bool YamlNode::is_sequence() const { return tree_ && tree_->nodes_[index_].kind == YamlTree::Kind::sequence; }
bool YamlNode::is_map() const { return tree_ && tree_->nodes_[index_].kind == YamlTree::Kind::mapping; }

std::string_view YamlNode::scalar() const {
  if (!tree_ || tree_->nodes_[index_].kind != YamlTree::Kind::scalar) return {};
  const auto& node = tree_->nodes_[index_];
  return std::string_view(tree_->text_).substr(node.begin, node.count);
}

int YamlNode::line() const { return tree_ ? static_cast<int>(tree_->nodes_[index_].line) + 1 : 1; }
int YamlNode::column() const { return tree_ ? static_cast<int>(tree_->nodes_[index_].column) + 1 : 1; }

YamlNode YamlNode::operator[](std::string_view key) const {
  if (!is_map()) return {};
  const auto& node = tree_->nodes_[index_];
  for (uint32_t i = 0; i < node.count; i += 2) {
    const YamlNode k(tree_, tree_->children_[node.begin + i]);
    if (tree_->nodes_[k.index_].kind == YamlTree::Kind::scalar && k.scalar() == key)
      return {tree_, tree_->children_[node.begin + i + 1]};
  }
  return {};
}

std::vector<YamlNode> YamlNode::items() const {
  std::vector<YamlNode> out;
  if (!is_sequence()) return out;
  const auto& node = tree_->nodes_[index_];
  out.reserve(node.count);
  for (uint32_t i = 0; i < node.count; ++i) out.push_back({tree_, tree_->children_[node.begin + i]});
  return out;
}

std::vector<std::pair<YamlNode, YamlNode>> YamlNode::pairs() const {
  std::vector<std::pair<YamlNode, YamlNode>> out;
  if (!is_map()) return out;
  const auto& node = tree_->nodes_[index_];
  out.reserve(node.count / 2);
  for (uint32_t i = 0; i < node.count; i += 2)
    out.emplace_back(YamlNode(tree_, tree_->children_[node.begin + i]),
                     YamlNode(tree_, tree_->children_[node.begin + i + 1]));
  return out;
}

size_t YamlNode::size() const {
  if (is_sequence()) return tree_->nodes_[index_].count;
  if (is_map()) return tree_->nodes_[index_].count / 2;
  return 0;
}

// Building the table from libyaml's events: each collection's children
// wait on one shared stack until the collection ends, then move to
// children_ in one piece.
struct YamlTree::Builder {
  YamlTree& tree;
  // A collection still open: its node, where its children start in
  // `waiting`, and the nodes references (*name) under it add to what the
  // file writes (see kMaxReferencedNodes).
  struct Open {
    uint32_t node;
    size_t start;
    uint64_t referenced = 0;
  };
  std::vector<uint32_t> waiting;                      // children of the open collections, innermost last
  std::vector<Open> open;                             // innermost last
  std::unordered_map<std::string, uint32_t> anchors;  // anchor -> node
  // An anchored collection's size with its own references' nodes, once it
  // has closed (an anchored scalar is one node).
  std::unordered_map<uint32_t, uint64_t> anchored_size;
  uint64_t referenced_at_root = 0;
  bool has_root = false;

  uint32_t add(Kind kind, bool plain, const yaml_mark_t& mark) {
    tree.nodes_.push_back({kind, plain, static_cast<uint32_t>(mark.line), static_cast<uint32_t>(mark.column), 0, 0});
    return static_cast<uint32_t>(tree.nodes_.size() - 1);
  }
  // A complete node: a child of the innermost collection, or the root.
  void place(uint32_t node) {
    if (open.empty()) {
      tree.root_ = node;
      has_root = true;
    } else {
      waiting.push_back(node);
    }
  }
  // False for an anchor already defined (libyaml's loader refuses it too).
  bool anchor(const yaml_char_t* name, uint32_t node) {
    if (!name) return true;
    if (!anchors.emplace(reinterpret_cast<const char*>(name), node).second) return false;
    anchored_size.emplace(node, 1);  // a collection's, when it closes
    return true;
  }
  // Counts `nodes` more under the innermost open collection; false past
  // the limit.
  bool refer(uint64_t nodes) {
    uint64_t& referenced = open.empty() ? referenced_at_root : open.back().referenced;
    referenced += nodes;
    return referenced <= kMaxReferencedNodes;
  }
  // False when the closed collection's references add too many nodes.
  bool close() {
    const Open closed = open.back();
    open.pop_back();
    auto& node = tree.nodes_[closed.node];
    node.begin = static_cast<uint32_t>(tree.children_.size());
    node.count = static_cast<uint32_t>(waiting.size() - closed.start);
    tree.children_.insert(tree.children_.end(), waiting.begin() + static_cast<std::ptrdiff_t>(closed.start),
                          waiting.end());
    waiting.resize(closed.start);
    place(closed.node);
    // Nodes are added in document order, so this collection's own are the
    // ones from it to the end of the table.
    if (auto it = anchored_size.find(closed.node); it != anchored_size.end())
      it->second = (tree.nodes_.size() - closed.node) + closed.referenced;
    return refer(closed.referenced);
  }
};

namespace {

struct ParserDeleter {
  void operator()(yaml_parser_t* parser) const {
    yaml_parser_delete(parser);
    delete parser;
  }
};

struct Event {
  yaml_event_t event{};
  bool set = false;
  ~Event() {
    if (set) yaml_event_delete(&event);
  }
};

YamlError error_of(const yaml_parser_t& parser) {
  YamlError error;
  error.line = static_cast<int>(parser.problem_mark.line) + 1;
  error.column = static_cast<int>(parser.problem_mark.column) + 1;
  error.message = parser.problem ? parser.problem : "cannot parse";
  if (parser.context) error.message = fmt::format("{} {}", parser.context, error.message);
  // A plain value that starts with * is an alias to YAML (`host: *.github.com`,
  // `agents: *`): say so at the *, not where libyaml gave up.
  if (error.message.find("alias") != std::string::npos && parser.context) {
    error.line = static_cast<int>(parser.context_mark.line) + 1;
    error.column = static_cast<int>(parser.context_mark.column) + 1;
  }
  return error;
}

constexpr const char* kAliasHint =
    "; a value that starts with * is read as a YAML alias: quote it, as in host: \"*.example.com\"";

YamlError error_at(const yaml_mark_t& mark, std::string message) {
  return {static_cast<int>(mark.line) + 1, static_cast<int>(mark.column) + 1, std::move(message)};
}

std::string too_many_referenced() {
  return fmt::format(
      "*references would add more than {} nodes to what the file writes (each one repeats the node it names, "
      "and readers walk every repetition)",
      YamlTree::kMaxReferencedNodes);
}

}  // namespace

std::pair<std::unique_ptr<YamlTree>, YamlError> YamlTree::parse(std::string_view text) {
  std::unique_ptr<yaml_parser_t, ParserDeleter> parser(new yaml_parser_t{});
  if (!yaml_parser_initialize(parser.get())) return {nullptr, YamlError{1, 1, "out of memory"}};
  yaml_parser_set_input_string(parser.get(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::unique_ptr<YamlTree> tree(new YamlTree());
  tree->text_.reserve(text.size() / 2);
  Builder builder{*tree};
  auto fail = [](YamlError error) -> std::pair<std::unique_ptr<YamlTree>, YamlError> {
    if (error.message.find("alias") != std::string::npos) error.message += kAliasHint;
    return {nullptr, std::move(error)};
  };
  for (;;) {
    Event e;
    if (!yaml_parser_parse(parser.get(), &e.event)) return fail(error_of(*parser));
    e.set = true;
    const yaml_event_t& event = e.event;
    switch (event.type) {
      case YAML_SCALAR_EVENT: {
        const uint32_t node =
            builder.add(Kind::scalar, event.data.scalar.style == YAML_PLAIN_SCALAR_STYLE, event.start_mark);
        tree->nodes_[node].begin = static_cast<uint32_t>(tree->text_.size());
        tree->nodes_[node].count = static_cast<uint32_t>(event.data.scalar.length);
        tree->text_.append(reinterpret_cast<const char*>(event.data.scalar.value), event.data.scalar.length);
        if (!builder.anchor(event.data.scalar.anchor, node))
          return fail(error_at(event.start_mark, "found duplicate anchor"));
        builder.place(node);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        const bool sequence = event.type == YAML_SEQUENCE_START_EVENT;
        const uint32_t node = builder.add(sequence ? Kind::sequence : Kind::mapping, false, event.start_mark);
        if (!builder.anchor(sequence ? event.data.sequence_start.anchor : event.data.mapping_start.anchor, node))
          return fail(error_at(event.start_mark, "found duplicate anchor"));
        builder.open.push_back({node, builder.waiting.size()});
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        if (!builder.close()) return fail(error_at(event.start_mark, too_many_referenced()));
        break;
      case YAML_ALIAS_EVENT: {
        auto it = builder.anchors.find(reinterpret_cast<const char*>(event.data.alias.anchor));
        if (it == builder.anchors.end()) return fail(error_at(event.start_mark, "found undefined alias"));
        // An alias inside the node it names would make the tree a cycle.
        for (const auto& open : builder.open)
          if (open.node == it->second)
            return fail(error_at(event.start_mark, "found a *reference inside the node it names (a cycle)"));
        builder.place(it->second);  // the anchored node, shared
        if (!builder.refer(builder.anchored_size.at(it->second)))
          return fail(error_at(event.start_mark, too_many_referenced()));
        break;
      }
      case YAML_DOCUMENT_END_EVENT:
      case YAML_STREAM_END_EVENT:
        // The first document only, as libyaml's loader reads it.
        if (!builder.has_root) tree->nodes_.clear();
        return {std::move(tree), YamlError{}};
      default:  // stream and document starts
        break;
    }
  }
}

}  // namespace agentd::policy
