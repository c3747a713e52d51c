// Fuzz target for policy YAML, the operator's input that every reload
// reads (and, through `agentctl policy push` to a fleet, text that crosses
// hosts): arbitrary bytes as one tenant file, the first NUL splitting off
// a preset file. Parsing either yields a policy and no errors, or errors
// and no policy, every one naming file:line:column; it never throws or
// crashes, and the same bytes always give the same answer (the digest
// of what was read). A policy that parses compiles for an agent of its
// tenant without crashing. Built with libFuzzer by scripts/fuzz; with a
// replay main in every build (policy_replay).
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "agentd/policy/compile.hpp"
#include "agentd/policy/loader.hpp"

using namespace agentd;

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz_policy: %s\n", what);
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto nul = bytes.find('\0');
  const std::string tenant_text(bytes.substr(0, nul));
  const policy::PolicyTexts presets = nul == std::string_view::npos
                                          ? policy::PolicyTexts{}
                                          : policy::PolicyTexts{{"fuzz.yaml", std::string(bytes.substr(nul + 1))}};
  const policy::PolicyTexts files = {{"acme.yaml", tenant_text}};

  const auto first = policy::parse_policy_texts(files, presets);
  require(first.ok() == first.errors.empty(), "a policy with errors, or none without");
  for (const auto& error : first.errors)
    require(!error.pos.file.empty() && error.pos.line >= 1 && error.pos.column >= 1 && !error.message.empty(),
            "an error that names no place or no reason");
  const auto second = policy::parse_policy_texts(files, presets);
  require(first.ok() == second.ok() && first.errors.size() == second.errors.size(), "the same text, another answer");
  if (!first.ok()) return 0;
  require(first.policy->source_digest() == second.policy->source_digest(), "the same text, another digest");
  for (const auto& tenant : first.policy->tenants())
    (void)policy::compile_for_agent(*first.policy, {tenant.tenant, "fuzz", "agent"});
  return 0;
}
