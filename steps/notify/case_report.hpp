// The parts of the post-incident report that the case record can write: the
// Timeline of Events and the Response Actions, from the records the steps
// appended (who ran what, when, what it changed, with which evidence hashes).
// It takes the records, not the repository, so it is tested in memory.
#pragma once

#include "ir/record/case_record.hpp"

#include <string>
#include <vector>

namespace ir::steps::notify {

struct CaseSections {
  std::string timeline;
  std::string response_actions;
};

[[nodiscard]] CaseSections case_sections(const std::vector<record::Entry>& entries);

}  // namespace ir::steps::notify
