#include "cli/shell.h"

#include <sys/select.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <optional>

// readline's headers need stdio first.
#include <readline/history.h>
#include <readline/readline.h>

#include "cli/cli_options.h"
#include "cli/command_runner.h"
#include "cli/daemon_values.h"
#include "cli/pager.h"
#include "cli/prompt.h"
#include "cli/terminal.h"
#include "cli/word_match.h"
#include "proto/control_command.h"

namespace tandem::cli {
namespace {

constexpr int kHistoryLines = 1000;
constexpr int kQuickTimeoutMs = 1000;  // prompt and completion queries: never a long wait
constexpr size_t kDefaultPageLines = 40;

volatile std::sig_atomic_t g_interrupted = 0;
volatile std::sig_atomic_t g_resized = 0;
Shell::Impl* g_shell = nullptr;  // readline's callbacks take no context pointer

extern "C" void onInterrupt(int) {
    g_interrupted = 1;
}
extern "C" void onResize(int) {
    g_resized = 1;
}

std::string commonPrefix(const std::vector<std::string>& words) {
    std::string prefix = words.front();
    for (const auto& w : words) {
        size_t n = 0;
        while (n < prefix.size() && n < w.size() && prefix[n] == w[n]) ++n;
        prefix.resize(n);
    }
    return prefix;
}

// readline's match list: [0] replaces the typed word, [1..] are listed.
char** toMatches(const std::vector<std::string>& candidates, const std::string& typed) {
    auto** m = static_cast<char**>(std::malloc((candidates.size() + 2) * sizeof(char*)));
    if (m == nullptr) return nullptr;
    if (candidates.size() == 1) {
        m[0] = ::strdup(candidates[0].c_str());
        m[1] = nullptr;
        return m;
    }
    std::string common = commonPrefix(candidates);
    // An abbreviation such as "ha" may match words that do not start with it:
    // then keep what was typed rather than shortening it.
    if (common.size() < typed.size() || lowerAscii(common).rfind(lowerAscii(typed), 0) != 0) {
        common = typed;
    }
    m[0] = ::strdup(common.c_str());
    for (size_t i = 0; i < candidates.size(); ++i) m[i + 1] = ::strdup(candidates[i].c_str());
    m[candidates.size() + 1] = nullptr;
    return m;
}

}  // namespace

struct Shell::Impl {
    Impl(const ControlClient& c, const CommandParser& p, Settings s)
        : client(c),
          parser(p),
          settings(std::move(s)),
          runner(c, p, settings.json),
          values([this](const std::string& command) -> std::optional<nlohmann::json> {
              ControlReply r = client.request(command, nlohmann::json::object(), quickTimeout());
              if (r.status != ControlReply::Status::ok) return std::nullopt;
              return r.result;
          }) {}

    const ControlClient& client;
    const CommandParser& parser;
    Settings settings;
    CommandRunner runner;
    DaemonValues values;
    std::string prompt = "tandem> ";
    std::optional<std::string> line;  // set by the line handler
    bool eof = false;
    bool done = false;

    int quickTimeout() const { return std::min(client.timeoutMs(), kQuickTimeoutMs); }

    // Returns false when the daemon did not answer at all.
    bool refreshPrompt() {
        ControlReply ha = client.request(control::commandWords(control::CommandId::show_ha_state),
                                         nlohmann::json::object(), quickTimeout());
        if (ha.status == ControlReply::Status::ok) {
            prompt = promptText(&ha.result, nullptr);
            return true;
        }
        if (ha.status == ControlReply::Status::unreachable) {
            prompt = promptText(nullptr, nullptr);
            return false;
        }
        ControlReply cfg = client.request(control::commandWords(control::CommandId::show_config),
                                          nlohmann::json::object(), quickTimeout());
        prompt =
            promptText(nullptr, cfg.status == ControlReply::Status::ok ? &cfg.result : nullptr);
        return cfg.status != ControlReply::Status::unreachable;
    }

    void loadHistory() {
        using_history();
        if (!settings.history_path.empty()) read_history(settings.history_path.c_str());
    }

    void remember(const std::string& text) {
        if (text.find_first_not_of(" \t") == std::string::npos) return;
        HIST_ENTRY* last =
            history_length > 0 ? history_get(history_base + history_length - 1) : nullptr;
        if (last != nullptr && text == last->line) return;
        add_history(text.c_str());
        if (settings.history_path.empty()) return;
        // Appending each line keeps it even if the shell is killed; the file
        // is created private on first use.
        if (append_history(1, settings.history_path.c_str()) != 0) {
            if (write_history(settings.history_path.c_str()) == 0) {
                ::chmod(settings.history_path.c_str(), 0600);
            }
        }
    }

    void print(const std::string& text) {
        if (!::isatty(STDOUT_FILENO) || !::isatty(STDIN_FILENO)) {
            std::fwrite(text.data(), 1, text.size(), stdout);
            std::fflush(stdout);
            return;
        }
        const size_t rows = Terminal::rows(STDOUT_FILENO);
        Pager pager(std::cout, rows > 1 ? rows - 1 : kDefaultPageLines,
                    [] { return Terminal::readKey(STDIN_FILENO); });
        pager.show(text);
        g_interrupted = 0;  // Ctrl-C at --More-- only stops the pager
    }

    void execute(const std::string& text) {
        remember(text);
        RunOutcome o = runner.run(text);
        g_interrupted = 0;
        if (o.exit_requested) {
            done = true;
            return;
        }
        if (!o.output.empty()) print(o.output);
        if (!o.error.empty()) {
            if (o.interrupted) std::printf("\n");  // after the terminal's own ^C
            if (o.parse_error) {
                const size_t column = prompt.size() + o.parse_error->column;
                std::printf("%s^\n", std::string(column, ' ').c_str());
            }
            std::fflush(stdout);
            std::fprintf(stderr, "%s: %s\n", o.daemon_error ? "tandemd" : "error", o.error.c_str());
            std::fflush(stderr);
        }
        if (!o.parse_error && !o.interrupted) refreshPrompt();
    }

    void abandonLine() {
        rl_free_line_state();
        rl_callback_sigcleanup();
        rl_echo_signal_char(SIGINT);
        rl_crlf();
        rl_replace_line("", 0);
        rl_on_new_line();
        rl_redisplay();
    }
};

namespace {

void onLine(char* text) {
    rl_callback_handler_remove();  // the loop re-installs it with a fresh prompt
    if (text == nullptr) {
        g_shell->eof = true;
        return;
    }
    g_shell->line = text;
    std::free(text);
}

char** onComplete(const char* text, int /*start*/, int end) {
    rl_attempted_completion_over = 1;  // never fall back to file names
    const std::string before(rl_line_buffer, size_t(end));
    std::vector<std::string> candidates =
        g_shell->parser.complete(before, [](ValueSource s) { return g_shell->values(s); });
    if (candidates.empty()) return nullptr;
    return toMatches(candidates, text);
}

int onHelpKey(int, int) {
    const std::string before(rl_line_buffer, size_t(rl_point));
    const std::string help = formatHelp(g_shell->parser.help(before));
    std::fprintf(rl_outstream, "%s\n%s", rl_point == rl_end ? "?" : "", help.c_str());
    std::fflush(rl_outstream);
    rl_on_new_line();
    return 0;
}

}  // namespace

Shell::Shell(const ControlClient& client, const CommandParser& parser, Settings settings)
    : impl_(std::make_unique<Impl>(client, parser, std::move(settings))) {}

Shell::~Shell() = default;

int Shell::run() {
    g_shell = impl_.get();
    rl_readline_name = "tandem";  // for $if tandem in ~/.inputrc
    rl_catch_signals = 0;         // Ctrl-C and resizes are handled in the loop below
    rl_catch_sigwinch = 0;
    rl_attempted_completion_function = onComplete;
    rl_completer_word_break_characters = const_cast<char*>(" \t");
    rl_completer_quote_characters = "\"";
    rl_bind_key('?', onHelpKey);
    impl_->loadHistory();

    struct sigaction sa = {};
    struct sigaction old_int = {};
    struct sigaction old_winch = {};
    sa.sa_handler = onInterrupt;  // no SA_RESTART: a wait ends with EINTR
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sa.sa_handler = onResize;
    sigaction(SIGWINCH, &sa, &old_winch);

    std::printf("%s: ? lists what you can type, TAB completes, exit leaves\n",
                cliVersionText().c_str());
    if (!impl_->refreshPrompt()) {
        std::fprintf(stderr, "warning: %s; commands will fail until it starts\n",
                     impl_->client.notRunningMessage().c_str());
    }
    std::fflush(stdout);

    while (!impl_->done) {
        impl_->line.reset();
        rl_callback_handler_install(impl_->prompt.c_str(), onLine);
        while (!impl_->line && !impl_->eof) {
            fd_set in;
            FD_ZERO(&in);
            FD_SET(STDIN_FILENO, &in);
            const int n = ::select(STDIN_FILENO + 1, &in, nullptr, nullptr, nullptr);
            if (n < 0 && errno != EINTR) {
                impl_->eof = true;
                break;
            }
            if (g_resized) {
                g_resized = 0;
                rl_resize_terminal();
            }
            if (g_interrupted) {
                g_interrupted = 0;
                impl_->abandonLine();
                continue;
            }
            if (n > 0) rl_callback_read_char();
        }
        if (impl_->eof) {
            rl_callback_handler_remove();
            std::printf("\n");
            break;
        }
        impl_->execute(*impl_->line);
    }

    if (!impl_->settings.history_path.empty()) {
        history_truncate_file(impl_->settings.history_path.c_str(), kHistoryLines);
    }
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGWINCH, &old_winch, nullptr);
    g_shell = nullptr;
    return kExitOk;
}

}  // namespace tandem::cli
