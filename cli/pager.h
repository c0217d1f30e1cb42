// Pager: shows long output one screenful at a time, like `more`: after each
// page "--More--" waits for a key — space for the next page, enter for one
// more line, q to stop. The keys come from an injected reader, so the paging
// logic is tested without a terminal.
#pragma once

#include <cstddef>
#include <functional>
#include <ostream>
#include <string>

namespace tandem::cli {

class Pager {
  public:
    /// Returns the next key pressed, or -1 when input has ended.
    using KeyReader = std::function<int()>;

    /// `page_lines` is how many lines fit before the prompt (at least 1).
    Pager(std::ostream& out, size_t page_lines, KeyReader read_key);

    /// Writes `text`, pausing after every page. Returns false if the operator
    /// stopped it (q, or the input ended) before the end.
    bool show(const std::string& text);

  private:
    std::ostream& out_;
    size_t page_lines_;
    KeyReader read_key_;
};

}  // namespace tandem::cli
