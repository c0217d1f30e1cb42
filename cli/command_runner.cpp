#include "cli/command_runner.h"

#include <algorithm>

#include "cli/command_table.h"
#include "cli/result_renderer.h"
#include "cli/tokenizer.h"

namespace tandem::cli {

CommandRunner::CommandRunner(const ControlClient& client, const CommandParser& parser, bool json)
    : client_(client), parser_(parser), json_(json) {}

RunOutcome CommandRunner::run(std::string_view line) const {
    RunOutcome out;
    // "show ?" outside the interactive shell: the help the ? key would show.
    const size_t last = line.find_last_not_of(" \t");
    if (last != std::string_view::npos && line[last] == '?' && !tokenize(line).error) {
        HelpResult help = parser_.help(line.substr(0, last));
        if (help.error) {
            out.status = kExitUsage;
            out.error = help.error->message;
            out.parse_error = help.error;
        } else {
            out.output = formatHelp(help);
        }
        return out;
    }
    ParseResult parsed = parser_.parse(line);
    if (parsed.empty) return out;
    if (parsed.error) {
        out.status = kExitUsage;
        out.error = parsed.error->message;
        out.parse_error = parsed.error;
        return out;
    }
    const ParsedCommand& cmd = *parsed.command;
    switch (cmd.action->builtin) {
        case Builtin::exit:
            out.exit_requested = true;
            return out;
        case Builtin::help:
            out.output = shellHelpText(commandTable());
            return out;
        case Builtin::none:
            break;
    }
    ControlReply reply = client_.request(cmd.canonical, cmd.args);
    switch (reply.status) {
        case ControlReply::Status::ok:
            out.output = json_ ? reply.result.dump(2) + "\n"
                               : renderResult(cmd.canonical, cmd.args, reply.result);
            return out;
        case ControlReply::Status::refused:
            out.status = kExitRefused;
            out.error = reply.error;
            out.daemon_error = true;
            return out;
        case ControlReply::Status::bad_reply:
            out.status = kExitRefused;
            out.error = reply.error;
            return out;
        case ControlReply::Status::interrupted:
            out.status = kExitRefused;
            out.error = "interrupted; the answer was not waited for";
            out.interrupted = true;
            return out;
        case ControlReply::Status::unreachable:
            out.status = kExitUnreachable;
            out.error = reply.error;
            return out;
    }
    return out;
}

std::string shellHelpText(const CommandNode& root) {
    std::string out =
        "Type a command and press enter. Words may be shortened while they stay\n"
        "unambiguous: 'sh ha st' is 'show high-availability state', 'sh int' is\n"
        "'show interfaces'.\n"
        "  ?            what may come next, with help (the typed line is kept)\n"
        "  TAB          complete the word; twice lists the choices\n"
        "  up/down      history (kept in ~/.tandem_history); Ctrl-R searches it\n"
        "  Ctrl-C       abandon the line\n"
        "  exit, quit   leave (so does Ctrl-D)\n"
        "Long output stops at each screenful: space for more, enter for a line, q to stop.\n"
        "\nCommands:\n";
    std::vector<const CommandNode*> top;
    for (const auto& c : root.children) top.push_back(&c);
    size_t width = 0;
    for (const auto* c : top) width = std::max(width, c->word.size());
    for (const auto* c : top) {
        out += "  " + c->word + std::string(width - c->word.size() + 3, ' ') + c->help + "\n";
    }
    return out;
}

}  // namespace tandem::cli
