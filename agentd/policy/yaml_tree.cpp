#include "agentd/policy/yaml_tree.hpp"

#include <cstring>

#include <fmt/format.h>

namespace agentd::policy {

bool YamlNode::is_null() const {
  if (!node_ || node_->type != YAML_SCALAR_NODE || node_->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return false;
  const std::string_view text = scalar();
  return text.empty() || text == "~" || text == "null" || text == "Null" || text == "NULL";
}

std::string_view YamlNode::scalar() const {
  if (!node_ || node_->type != YAML_SCALAR_NODE) return {};
  return {reinterpret_cast<const char*>(node_->data.scalar.value), node_->data.scalar.length};
}

YamlNode YamlNode::operator[](std::string_view key) const {
  if (!is_map()) return {};
  for (auto* pair = node_->data.mapping.pairs.start; pair < node_->data.mapping.pairs.top; ++pair) {
    const YamlNode k = at(pair->key);
    if (k.node_->type == YAML_SCALAR_NODE && k.scalar() == key) return at(pair->value);
  }
  return {};
}

std::vector<YamlNode> YamlNode::items() const {
  std::vector<YamlNode> out;
  if (!is_sequence()) return out;
  out.reserve(size());
  for (auto* item = node_->data.sequence.items.start; item < node_->data.sequence.items.top; ++item)
    out.push_back(at(*item));
  return out;
}

std::vector<std::pair<YamlNode, YamlNode>> YamlNode::pairs() const {
  std::vector<std::pair<YamlNode, YamlNode>> out;
  if (!is_map()) return out;
  for (auto* pair = node_->data.mapping.pairs.start; pair < node_->data.mapping.pairs.top; ++pair)
    out.emplace_back(at(pair->key), at(pair->value));
  return out;
}

size_t YamlNode::size() const {
  if (is_sequence()) return static_cast<size_t>(node_->data.sequence.items.top - node_->data.sequence.items.start);
  if (is_map()) return static_cast<size_t>(node_->data.mapping.pairs.top - node_->data.mapping.pairs.start);
  return 0;
}

std::pair<std::unique_ptr<YamlTree>, YamlError> YamlTree::parse(std::string_view text) {
  yaml_parser_t parser;
  if (!yaml_parser_initialize(&parser)) return {nullptr, YamlError{1, 1, "out of memory"}};
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::unique_ptr<YamlTree> tree(new YamlTree());
  YamlError error;
  if (!yaml_parser_load(&parser, &tree->doc_)) {
    error.line = static_cast<int>(parser.problem_mark.line) + 1;
    error.column = static_cast<int>(parser.problem_mark.column) + 1;
    error.message = parser.problem ? parser.problem : "cannot parse";
    if (parser.context) error.message = fmt::format("{} {}", parser.context, error.message);
    // A plain value that starts with * is an alias to YAML (`host: *.github.com`,
    // `agents: *`): say so at the *, not where libyaml gave up.
    if (error.message.find("alias") != std::string::npos) {
      if (parser.context) {
        error.line = static_cast<int>(parser.context_mark.line) + 1;
        error.column = static_cast<int>(parser.context_mark.column) + 1;
      }
      error.message +=
          "; a value that starts with * is read as a YAML alias: quote it, as in "
          "host: \"*.example.com\"";
    }
    yaml_parser_delete(&parser);
    // libyaml leaves no document to free when loading fails.
    std::memset(&tree->doc_, 0, sizeof(tree->doc_));
    return {nullptr, error};
  }
  yaml_parser_delete(&parser);
  return {std::move(tree), error};
}

YamlTree::~YamlTree() {
  if (doc_.nodes.start) yaml_document_delete(&doc_);
}

}  // namespace agentd::policy
