// What a container runtime tells agentctl (OCI hook state, container ids,
// the cgroup of a container's process), checked before any adoption.
#include <catch2/catch.hpp>

#include "agentd/confine/container_ref.hpp"

using namespace agentd::confine;

namespace {
const std::string kId = "b28f5954485315d1a7b072c3956c961f2a669de2b1a92b19f9e6a0b48030a8b9";
}

TEST_CASE("an OCI hook's state gives the container, its process and its agent") {
  auto state = parse_oci_state(R"({"ociVersion":"1.0.2-dev","id":")" + kId +
                               R"(","status":"creating","pid":21009,"bundle":"/x","annotations":)"
                               R"({"io.agentd.agent":"acme/eng/coder-1","io.podman.annotations.init":"FALSE"}})");
  REQUIRE(state);
  CHECK(state->id == kId);
  CHECK(state->pid == 21009);
  CHECK(state->agent == "acme/eng/coder-1");
  CHECK_FALSE(state->unknown_tenant);

  auto staged = parse_oci_state(R"({"id":"c1","pid":5,"annotations":{"io.agentd.agent":"new/t/a",)"
                                R"("io.agentd.unknown-tenant":"true"}})");
  REQUIRE(staged);
  CHECK(staged->unknown_tenant);

  auto plain = parse_oci_state(R"({"id":"c1","pid":5})");  // no annotations: nothing to adopt
  REQUIRE(plain);
  CHECK(plain->agent.empty());
}

TEST_CASE("an OCI state that is not one is refused with the reason") {
  auto reason = [](const std::string& text) {
    auto state = parse_oci_state(text);
    REQUIRE_FALSE(state);
    return state.error().describe();
  };
  CHECK_THAT(reason("not json"), Catch::Contains("not JSON"));
  CHECK_THAT(reason("[1]"), Catch::Contains("not a JSON object"));
  CHECK_THAT(reason(R"({"pid":5})"), Catch::Contains("no container id"));
  CHECK_THAT(reason(R"({"id":"c1"})"), Catch::Contains("no pid"));
  CHECK_THAT(reason(R"({"id":"c1","pid":"5"})"), Catch::Contains("no pid"));
  CHECK_THAT(reason(R"({"id":"c1","pid":1})"), Catch::Contains("not a container's process"));
  CHECK_THAT(reason(R"({"id":"c1","pid":-3})"), Catch::Contains("not a container's process"));
  CHECK_THAT(reason(R"({"id":"c1","pid":99999999999})"), Catch::Contains("not a container's process"));
  CHECK_THAT(reason(R"({"id":"c1","pid":5,"annotations":[]})"), Catch::Contains("annotations are not an object"));
  CHECK_THAT(reason(R"({"id":"c1","pid":5,"annotations":{"io.agentd.agent":7}})"),
             Catch::Contains("io.agentd.agent is not a string"));
  CHECK_THAT(reason(R"({"id":"c1","pid":5,"annotations":{"io.agentd.unknown-tenant":"yes"}})"),
             Catch::Contains("not true or false"));
  // Odd bytes in what is quoted back come out escaped.
  CHECK_THAT(reason("{\"id\":\"c\\u001b[2J\"}"), Catch::Contains("\\x1b"));
}

TEST_CASE("a container reference is an id or a name, never an option or odd bytes") {
  CHECK(check_container_ref("coder-1"));
  CHECK(check_container_ref("b28f59544853"));
  CHECK(check_container_ref(kId));
  CHECK(check_container_ref("my_app.v2"));
  CHECK_FALSE(check_container_ref(""));
  CHECK_FALSE(check_container_ref("--format=x"));
  CHECK_FALSE(check_container_ref("-x"));
  CHECK_FALSE(check_container_ref(".hidden"));
  CHECK_FALSE(check_container_ref("a b"));
  CHECK_FALSE(check_container_ref("a/b"));
  CHECK_FALSE(check_container_ref("a\x1b[2J"));
  CHECK_FALSE(check_container_ref(std::string(256, 'a')));
  auto odd = check_container_ref("ok\nforged");
  REQUIRE_FALSE(odd);
  CHECK_THAT(odd.error().describe(), Catch::Contains("\\n"));
}

TEST_CASE("the cgroup of a container's process must name the container") {
  // runc or crun with cgroupfs (Podman, Docker's --cgroup-parent)
  CHECK(check_cgroup_names_container("/sys/fs/cgroup/unified/libpod_parent/libpod-" + kId, kId));
  CHECK(check_cgroup_names_container("/sys/fs/cgroup/agents/coder-1/" + kId, kId));
  // the systemd driver, and crun's own leaf under it
  CHECK(check_cgroup_names_container("/sys/fs/cgroup/system.slice/docker-" + kId + ".scope", kId));
  CHECK(check_cgroup_names_container("/sys/fs/cgroup/machine.slice/libpod-" + kId + ".scope/container", kId));
  // another container's cgroup, or one further up: the pid is no longer its
  const std::string other = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  CHECK_FALSE(check_cgroup_names_container("/sys/fs/cgroup/unified/libpod_parent/libpod-" + other, kId));
  CHECK_FALSE(check_cgroup_names_container("/sys/fs/cgroup/unified/user.slice", kId));
  CHECK_FALSE(check_cgroup_names_container("/sys/fs/cgroup/" + kId + "/a/b", kId));
  CHECK_FALSE(check_cgroup_names_container("/sys/fs/cgroup/x", "short"));
  CHECK(check_cgroup_names_container("/sys/fs/cgroup/mybox", "mybox"));  // runc run mybox
  // podman --cgroups=disabled: the process stays in the caller's cgroup
  CHECK_FALSE(check_cgroup_names_container("/sys/fs/cgroup/user.slice/user-0.slice/session-1.scope", kId));
  CHECK_FALSE(check_cgroup_names_container("/sys/fs/cgroup/x", "../x"));
  CHECK_FALSE(check_container_id(std::string(64, 'G')));
}
