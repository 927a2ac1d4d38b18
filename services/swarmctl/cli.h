#pragma once
// swarmctl's command table: every subcommand with its options and help. The parser, each
// command's --help and the bash and zsh completion scripts are all generated from it, so they
// cannot disagree.
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace sc::cli {

struct OptSpec {
  std::string name;        // "--key" or "-a"
  std::string value_name;  // "" for a flag without a value
  std::string help;
};

struct Parsed {
  std::multimap<std::string, std::string> opts;
  std::vector<std::string> pos;
  std::string error;
  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, std::string fallback = "") const;
  std::vector<std::string> all(const std::string& k) const;
};

struct Command {
  std::string name, args, summary;
  std::vector<OptSpec> opts;
};

// Options every command takes (they may also come before the command).
const std::vector<OptSpec>& global_options();

// Splits a command's arguments into options (mktorrent-style "-l20" too) and positionals.
// Unknown options are an error.
Parsed parse(const Command& cmd, const std::vector<std::string>& args);

// "usage: swarmctl NAME ARGS" with the summary and one line per option.
std::string command_help(const Command& cmd);
// The top-level usage: every command's synopsis.
std::string overall_help(const std::vector<Command>& commands);

// Completion scripts for `swarmctl completion bash|zsh`.
std::string bash_completion(const std::vector<Command>& commands);
std::string zsh_completion(const std::vector<Command>& commands);

}  // namespace sc::cli
