#pragma once
// Replacing a file so that readers and crashes see the old content or the new, never a part.
#include <string>
#include <string_view>

#include "common/core/error.h"

namespace sc {

// Writes `data` to a new file in the directory of `path`, fsyncs it, renames it over `path` and
// fsyncs the directory, so the new content survives a power cut once this returns. The new
// file gets mode 0666 less the umask, like fopen's. On any failure before the rename `path` is
// untouched and the temporary file is removed; a failure of the final directory fsync leaves
// the new content in place but not yet durable.
// Errors: io, naming the step, the file and the errno text.
Status write_file_atomically(const std::string& path, std::string_view data);

}  // namespace sc
