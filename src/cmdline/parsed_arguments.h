// The command lines of both programs (tandemd, the tandem shell) read with
// Boost.Program_options the same way: their options, plus the words that are
// no option, with one error message form.
#pragma once

#include <boost/program_options.hpp>

#include <optional>
#include <string>

namespace tandem {

/// Parses argv (argc entries, argv[0] the program) against `options` plus a
/// hidden option `words` that collects, in order, every argument that is no
/// option (read it as vm[words].as<std::vector<std::string>>() when
/// vm.count(words)). Returns the parsed values; on a bad command line
/// returns nullopt and sets *error to what is wrong followed by
/// " (see --help)". Any thread.
std::optional<boost::program_options::variables_map> parseArguments(
    int argc, const char* const* argv, const boost::program_options::options_description& options,
    const char* words, std::string* error);

}  // namespace tandem
