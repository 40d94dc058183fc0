// The fvd-img subcommands. Each registers itself on the CLI11 app; its callback returns the
// process exit code through `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include "tools/fvd-img/opening.h"

namespace fvd::img {

void AddCreateCommand(CLI::App& app, int& exit_code);
void AddInfoCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening);
void AddCheckCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening);
void AddUpdateCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening);
void AddIoCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening);
void AddMapCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening);
void AddBenchCommand(CLI::App& app, int& exit_code, const OpeningArgs& opening);

// Prints "fvd-img: <message>" as one line on stderr and returns 1.
int Fail(const std::string& message);

}  // namespace fvd::img
