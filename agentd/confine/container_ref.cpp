#include "agentd/confine/container_ref.hpp"

#include <nlohmann/json.hpp>

#include "agentd/common/safe_text.hpp"

namespace agentd::confine {

using nlohmann::json;

Result<OciHookState> parse_oci_state(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error("the OCI state on stdin is not JSON");
  if (!doc.is_object()) return make_error("the OCI state on stdin is not a JSON object");
  OciHookState state;
  auto id = doc.find("id");
  if (id == doc.end() || !id->is_string() || id->get_ref<const std::string&>().empty())
    return make_error("the OCI state has no container id");
  state.id = id->get<std::string>();
  auto pid = doc.find("pid");
  if (pid == doc.end() || !pid->is_number_integer())
    return make_error("the OCI state of container {} has no pid (the hook must run at createRuntime or prestart)",
                      terminal_text(state.id));
  const auto value = pid->get<int64_t>();
  if (value <= 1 || value > INT32_MAX)
    return make_error("the OCI state of container {} has pid {}, not a container's process", terminal_text(state.id),
                      value);
  state.pid = static_cast<pid_t>(value);
  auto annotations = doc.find("annotations");
  if (annotations == doc.end() || annotations->is_null()) return state;
  if (!annotations->is_object()) return make_error("the OCI state's annotations are not an object");
  auto read = [&](std::string_view key) -> Result<std::string> {
    auto found = annotations->find(std::string(key));
    if (found == annotations->end()) return std::string();
    if (!found->is_string()) return make_error("annotation {} is not a string", key);
    return found->get<std::string>();
  };
  auto agent = read(kAgentAnnotation);
  if (!agent) return agent.error();
  state.agent = std::move(*agent);
  auto unknown = read(kUnknownTenantAnnotation);
  if (!unknown) return unknown.error();
  if (!unknown->empty() && *unknown != "true" && *unknown != "false")
    return make_error("annotation {} is \"{}\", not true or false", kUnknownTenantAnnotation, terminal_text(*unknown));
  state.unknown_tenant = *unknown == "true";
  return state;
}

Status check_container_ref(std::string_view ref) {
  auto ok_char = [](char c, bool first) {
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    return alnum || (!first && (c == '_' || c == '.' || c == '-'));
  };
  if (ref.empty()) return make_error("the container is empty: give its id or name");
  if (ref.size() > 255)
    return make_error("the container \"{}...\" is longer than 255 bytes", terminal_text(ref.substr(0, 32)));
  for (size_t i = 0; i < ref.size(); ++i)
    if (!ok_char(ref[i], i == 0))
      return make_error(
          "the container \"{}\" is no id or name: byte {} ('{}') is not a letter, digit, or (after the "
          "first) _ . -",
          terminal_text(ref), i + 1, terminal_text(ref.substr(i, 1)));
  return ok_status();
}

Status check_container_id(std::string_view id) {
  if (id.size() != 64) return make_error("\"{}\" is not a full container id (64 hex digits)", terminal_text(id));
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return make_error("\"{}\" is not a full container id (64 hex digits)", terminal_text(id));
  return ok_status();
}

Status check_cgroup_names_container(std::string_view cgroup_path, std::string_view container_id) {
  if (auto st = check_container_ref(container_id); !st) return st;
  // The last two components: crun leaves the process in a "container"
  // leaf under the container's own cgroup.
  std::string_view rest = cgroup_path;
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  for (int component = 0; component < 2 && !rest.empty(); ++component) {
    const size_t slash = rest.rfind('/');
    const std::string_view name = slash == std::string_view::npos ? rest : rest.substr(slash + 1);
    if (name.find(container_id) != std::string_view::npos) return ok_status();
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(0, slash);
  }
  return make_error(
      "the container's process is in cgroup {}, which does not name container {}: it is not the "
      "container's (it exited?), the container has no cgroup of its own (podman --cgroups=disabled), "
      "or the runtime keeps it elsewhere; adopt its cgroup with --cgroup",
      terminal_text(cgroup_path), container_id.substr(0, 12));
}

}  // namespace agentd::confine
