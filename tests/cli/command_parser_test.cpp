#include "cli/command_parser.h"

#include <doctest/doctest.h>

#include "cli/command_table.h"

using namespace tandem::cli;
using nlohmann::json;

namespace {

const CommandParser& parser() {
    static const CommandParser p(commandTable());
    return p;
}

ParsedCommand parsed(const std::string& line) {
    ParseResult r = parser().parse(line);
    if (r.error) FAIL_CHECK("'" << line << "' did not parse: " << r.error->message);
    REQUIRE(r.command);
    return *r.command;
}

std::string errorOf(const std::string& line) {
    ParseResult r = parser().parse(line);
    REQUIRE_MESSAGE(r.error, "'" << line << "' parsed but should not");
    return r.error->message;
}

using Words = std::vector<std::string>;

std::vector<std::string> helpWords(const std::string& line) {
    std::vector<std::string> out;
    for (const auto& i : parser().help(line).items) out.push_back(i.word);
    return out;
}

}  // namespace

TEST_CASE("abbreviations expand to the canonical command") {
    CHECK(parsed("sh ha st").canonical == "show high-availability state");
    CHECK(parsed("sh ha st").expanded == "show high-availability state");
    CHECK(parsed("sh int").canonical == "show interfaces");
    CHECK(parsed("sh ha ss").canonical == "show high-availability state-synchronization");
    CHECK(parsed("sh cl m").canonical == "show cluster members");
    CHECK(parsed("SHOW VER").canonical == "show version");
    CHECK(parsed("req ha sus").canonical == "request high-availability suspend");
    CHECK(parsed("cl s a").canonical == "clear session all");
    CHECK(parsed("sh cou").args == json::object());
}

TEST_CASE("an empty line is neither a command nor an error") {
    ParseResult r = parser().parse("   ");
    CHECK(r.empty);
    CHECK_FALSE(r.command);
    CHECK_FALSE(r.error);
}

TEST_CASE("an unknown word says after what and lists what was expected") {
    CHECK(errorOf("show foo") ==
          "unknown word 'foo' after 'show'; expected one of: application, cluster, config, "
          "counters, high-availability, interfaces, nat, session, version");
    CHECK(errorOf("foo") ==
          "unknown command 'foo'; expected one of: clear, debug, exit, help, quit, request, show");
    CHECK(parser().parse("show foo").error->column == 5);
}

TEST_CASE("an ambiguous abbreviation names what it could be") {
    CHECK(errorOf("show co") == "ambiguous word 'co' after 'show': could be config, counters");
    CHECK(errorOf("sh se a st s") ==
          "ambiguous STATE 's' after 'show session all state': could be syn-recv, syn-sent");
}

TEST_CASE("an incomplete command lists what may follow") {
    CHECK(errorOf("show high-availability") ==
          "incomplete command 'show high-availability'; expected one of: state, "
          "state-synchronization");
    CHECK(errorOf("sh ses") == "incomplete command 'show session'; expected one of: all, flow, id");
    CHECK(errorOf("clear session filter") ==
          "incomplete command 'clear session filter'; expected at least one of: dport, dst, "
          "owner, proto, sport, src, state");
}

TEST_CASE("words after a complete command are refused") {
    CHECK(errorOf("show version now") ==
          "unexpected word 'now' after 'show version'; expected the end of the command");
}

TEST_CASE("show session all takes filters in any order, typed and normalised") {
    ParsedCommand c = parsed("sh se a dport 443 src 10.0.0.1 proto 6 st est ow fw2");
    CHECK(c.canonical == "show session all");
    CHECK(c.args == json{{"dport", 443},
                         {"src", "10.0.0.1"},
                         {"proto", "tcp"},
                         {"state", "established"},
                         {"owner", "fw2"}});
    CHECK(c.expanded ==
          "show session all dport 443 src 10.0.0.1 proto tcp state established "
          "owner fw2");
    CHECK(parsed("show session all owner 2").args == json{{"owner", 2}});
    CHECK(parsed("show session all dst 2001:DB8::0:1").args == json{{"dst", "2001:db8::1"}});
    CHECK(parsed("show session all proto 47").args == json{{"proto", "47"}});
}

TEST_CASE("a bad filter value says what was expected") {
    CHECK(errorOf("show session all src 10.0.0") ==
          "invalid SRC-IP '10.0.0' after 'show session all src'; expected an IPv4 or IPv6 address");
    CHECK(errorOf("show session all dport 70000") ==
          "invalid DST-PORT '70000' after 'show session all dport'; expected a port number "
          "0..65535");
    CHECK(errorOf("show session all proto 300") ==
          "invalid PROTO '300' after 'show session all proto'; expected a protocol: tcp, udp, "
          "icmp, icmpv6 or a number 0..255");
    CHECK(errorOf("show session all owner 17") ==
          "invalid NODE '17' after 'show session all owner'; expected a node id 1..16 or a node "
          "name");
    CHECK(errorOf("show session all state bogus")
              .find("expected one of: syn-sent, syn-recv, "
                    "established") != std::string::npos);
    CHECK(errorOf("show session all src") ==
          "missing SRC-IP after 'show session all src'; expected an IPv4 or IPv6 address");
    CHECK(errorOf("show session all src 1.1.1.1 src 2.2.2.2") ==
          "'src' is given twice after 'show session all src 1.1.1.1'; each may appear once");
}

TEST_CASE("an unknown filter lists the filters and the end of the command") {
    CHECK(errorOf("show session all src 1.1.1.1 foo") ==
          "unknown word 'foo' after 'show session all src 1.1.1.1'; expected one of: dport, dst, "
          "owner, proto, sport, state, or the end of the command");
}

TEST_CASE("show session id and flow take positional values") {
    CHECK(parsed("sh ses id 42").args == json{{"id", 42}});
    CHECK(errorOf("show session id 0") ==
          "invalid ID '0' after 'show session id'; expected a whole number of at least 1");
    CHECK(errorOf("show session id") ==
          "missing ID after 'show session id'; expected a whole number of at least 1");
    ParsedCommand f = parsed("show session flow 10.0.0.1 1234 10.0.0.2 80 tcp");
    CHECK(f.canonical == "show session flow");
    CHECK(f.args == json{{"src", "10.0.0.1"},
                         {"sport", 1234},
                         {"dst", "10.0.0.2"},
                         {"dport", 80},
                         {"proto", "tcp"}});
    CHECK(errorOf("show session flow 10.0.0.1 http") ==
          "invalid SRC-PORT 'http' after 'show session flow 10.0.0.1'; expected a port number "
          "0..65535");
}

TEST_CASE("show counters takes an optional group and the all flag") {
    CHECK(parsed("show counters").args == json::object());
    CHECK(parsed("show counters all").args == json{{"all", true}});
    CHECK(parsed("sh cou pl").args == json{{"group", "peer-link"}});
    CHECK(parsed("sh cou all data").args == json{{"all", true}, {"group", "dataplane"}});
    CHECK(parsed("sh cou ha").args == json{{"group", "ha"}});
    CHECK(errorOf("show counters dataplane ha") ==
          "unknown word 'ha' after 'show counters dataplane'; expected one of: all, or the end "
          "of the command");
}

TEST_CASE("clear and debug build their args") {
    CHECK(parsed("clear session id 7").args == json{{"id", 7}});
    CHECK(parsed("clear session filter dst 192.0.2.1").args == json{{"dst", "192.0.2.1"}});
    ParsedCommand d = parsed("debug dataplane deb");
    CHECK(d.canonical == "debug");
    CHECK(d.args == json{{"subsystem", "dataplane"}, {"level", "debug"}});
    CHECK(errorOf("debug ha loud") ==
          "invalid LEVEL 'loud' after 'debug ha'; expected one of: error, warn, info, debug");
}

TEST_CASE("builtins parse without a daemon command") {
    CHECK(parsed("exit").action->builtin == Builtin::exit);
    CHECK(parsed("q").action->builtin == Builtin::exit);
    CHECK(parsed("help").action->builtin == Builtin::help);
}

TEST_CASE("completion offers the words a partial word abbreviates") {
    CHECK(parser().complete("sh") == Words{"show"});
    CHECK(parser().complete("show in") == Words{"interfaces"});
    CHECK(parser().complete("show ha") == Words{"high-availability"});
    CHECK(parser().complete("show c") == Words{"cluster", "config", "counters"});
    CHECK(parser().complete("show high-availability st") ==
          Words{"state", "state-synchronization"});
    CHECK(parser().complete("") ==
          Words{"clear", "debug", "exit", "help", "quit", "request", "show"});
}

TEST_CASE("completion offers the filters not yet given and the values of a slot") {
    CHECK(parser().complete("show session all src 1.1.1.1 ") ==
          Words{"dport", "dst", "owner", "proto", "sport", "state"});
    CHECK(parser().complete("show session all state c") == Words{"close", "close-wait"});
    CHECK(parser().complete("show session all proto ") == Words{"icmp", "icmpv6", "tcp", "udp"});
    CHECK(parser().complete("show counters ") == Words{"all", "dataplane", "ha", "peer-link"});
    CHECK(parser().complete("debug ") == Words{"all", "control", "dataplane", "ha", "tandemd"});
    CHECK(parser().complete("debug ha ") == Words{"debug", "error", "info", "warn"});
    CHECK(parser().complete("show version ").empty());
    CHECK(parser().complete("show foo ").empty());
}

TEST_CASE("completion asks the provider for session ids and node names") {
    std::vector<ValueSource> asked;
    ValueProvider values = [&](ValueSource s) -> std::vector<std::string> {
        asked.push_back(s);
        if (s == ValueSource::session_ids) return {"17", "170", "23"};
        if (s == ValueSource::node_names) return {"1", "2", "fw1", "fw2"};
        return {};
    };
    CHECK(parser().complete("show session id 1", values) == Words{"17", "170"});
    CHECK(parser().complete("clear session id ", values) == Words{"17", "170", "23"});
    CHECK(parser().complete("show session all owner f", values) == Words{"fw1", "fw2"});
    CHECK(asked == std::vector<ValueSource>{ValueSource::session_ids, ValueSource::session_ids,
                                            ValueSource::node_names});
}

TEST_CASE("help lists the next words with one line each") {
    HelpResult h = parser().help("show ");
    REQUIRE_FALSE(h.error);
    CHECK(helpWords("show ") == Words{"application", "cluster", "config", "counters",
                                      "high-availability", "interfaces", "nat", "session",
                                      "version"});
    CHECK(h.items[5].help == "the data ports and the peer link: link, speed and traffic counters");
    CHECK(helpWords("sh") == Words{"show"});
    CHECK(helpWords("show version ") == Words{"<cr>"});
    CHECK(helpWords("show session id ") == Words{"<ID>"});
    CHECK(helpWords("show counters ") == Words{"all", "dataplane", "ha", "peer-link", "<cr>"});
    CHECK(helpWords("show session all src 1.1.1.1 ") ==
          Words{"dport", "dst", "owner", "proto", "sport", "state", "<cr>"});
    CHECK(helpWords("debug ha ") == Words{"error", "warn", "info", "debug"});
}

TEST_CASE("help after a wrong word says what was wrong") {
    HelpResult h = parser().help("show foo ");
    REQUIRE(h.error);
    CHECK(h.error->message.find("unknown word 'foo' after 'show'") == 0);
    h = parser().help("show xyz");
    REQUIRE(h.error);
    CHECK(h.error->message.find("unknown word 'xyz' after 'show'") == 0);
    CHECK(formatHelp(h).rfind("error: unknown word", 0) == 0);
}

TEST_CASE("formatted help aligns the descriptions") {
    std::string text = formatHelp(parser().help("show high-availability "));
    CHECK(text ==
          "  state                   this node's HA state, its peers and the HA settings\n"
          "  state-synchronization   session synchronization with the peers: queues, acks, "
          "resyncs\n");
}
