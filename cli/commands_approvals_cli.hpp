// The command lines of watch, approvals, grants and audit (kept apart from
// main.cpp so that each subcommand family owns its options).
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "commands.hpp"

namespace agentctl {

void add_approval_commands(CLI::App& app, Globals& g, const std::function<void(CLI::App*)>& add_output, int& code);

}  // namespace agentctl
