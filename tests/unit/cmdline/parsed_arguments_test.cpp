// The command-line reading both programs share.
#include "cmdline/parsed_arguments.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace tandem;
namespace po = boost::program_options;

namespace {

po::options_description options() {
    po::options_description opts("Options");
    opts.add_options()("config,c", po::value<std::string>(), "a file")("json,j", "a switch");
    return opts;
}

}  // namespace

TEST_CASE("options and the words that are no option are read, words in order") {
    const char* argv[] = {"prog", "show", "-j", "session", "--config", "x.conf", "all"};
    std::string error;
    const auto vm = parseArguments(7, argv, options(), "words", &error);
    REQUIRE(vm);
    CHECK(error.empty());
    CHECK(vm->count("json") == 1);
    CHECK((*vm)["config"].as<std::string>() == "x.conf");
    CHECK((*vm)["words"].as<std::vector<std::string>>() ==
          std::vector<std::string>{"show", "session", "all"});
}

TEST_CASE("a bad command line says what is wrong and where to look") {
    const char* unknown[] = {"prog", "--colour"};
    std::string error;
    CHECK_FALSE(parseArguments(2, unknown, options(), "words", &error));
    CHECK(error.find("colour") != std::string::npos);
    CHECK(error.size() > 13);
    CHECK(error.substr(error.size() - 13) == " (see --help)");
    const char* missing[] = {"prog", "--config"};
    error.clear();
    CHECK_FALSE(parseArguments(2, missing, options(), "words", &error));
    CHECK(error.find("config") != std::string::npos);
}
