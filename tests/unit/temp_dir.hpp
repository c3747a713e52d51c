// A folder of its own for a test that writes files (a store), removed
// when the test ends, passed or not.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <system_error>

namespace agentd::testing {

struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix = "agentd-unit") {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) != nullptr) path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }
};

}  // namespace agentd::testing
