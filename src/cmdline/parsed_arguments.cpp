#include "cmdline/parsed_arguments.h"

#include <vector>

namespace po = boost::program_options;

namespace tandem {

std::optional<po::variables_map> parseArguments(int argc, const char* const* argv,
                                                const po::options_description& options,
                                                const char* words, std::string* error) {
    po::options_description all;
    all.add(options);
    all.add_options()(words, po::value<std::vector<std::string>>());
    po::positional_options_description positional;
    positional.add(words, -1);

    po::variables_map vm;
    try {
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional).run(),
                  vm);
        po::notify(vm);
    } catch (const po::error& e) {
        *error = std::string(e.what()) + " (see --help)";
        return std::nullopt;
    }
    return vm;
}

}  // namespace tandem
