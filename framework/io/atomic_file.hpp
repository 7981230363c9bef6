#pragma once
// Files that appear complete or not at all: every writer of model files (HDF5, .keras archives) goes through
// write_file_atomically, so a failed or killed save never leaves a half-written file under the target name.
#include <functional>
#include <string>

namespace xk
{
    /// `write` fills a temporary file in the same directory ("<path>.tmp-<pid>-<n>"), which is then renamed
    /// over `path`. If anything throws, the temporary is removed, a previous file at `path` is untouched, and
    /// the exception propagates. The temporary is fsync'ed before the rename and the directory after it, so
    /// the new name never points at unwritten blocks after a crash. A process killed before the rename leaves
    /// the old file and a "<path>.tmp-<pid>-<n>" file behind (never a half file under `path`).
    void write_file_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write);

    namespace testing
    {
        /// Test-only: called with the temporary's name after it is written and synced, just before the rename
        /// (fault-injection tests kill the process there). An empty function removes the hook.
        void set_before_rename_hook(std::function<void(const std::string& temporary)> hook);
    }
}
