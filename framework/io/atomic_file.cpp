#include "framework/io/atomic_file.hpp"

#include "framework/engine/error.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <filesystem>

namespace xk
{
    namespace
    {
        namespace fs = std::filesystem;

        std::function<void(const std::string&)>& before_rename_hook()
        {
            static std::function<void(const std::string&)> hook;
            return hook;
        }

        /// Pushes a file's (or a directory's) data to the disk, so that a power cut after the rename cannot
        /// leave the new name pointing at blocks that were never written.
        void sync_to_disk(const std::string& path, bool directory, const std::string& saving)
        {
            int fd = ::open(path.c_str(), directory ? (O_RDONLY | O_DIRECTORY) : O_RDONLY);
            XK_CHECK(fd >= 0, io_error, "Cannot write '", saving, "': opening '", path,
                     "' to flush it failed: ", std::strerror(errno));
            int rc = ::fsync(fd);
            int fsync_errno = errno;
            ::close(fd);
            // Some file systems refuse fsync on directories (EINVAL); the data itself is synced by then.
            XK_CHECK(rc == 0 || (directory && fsync_errno == EINVAL), io_error, "Cannot write '", saving,
                     "': flushing '", path, "' to disk failed: ", std::strerror(fsync_errno));
        }
    }

    namespace testing
    {
        void set_before_rename_hook(std::function<void(const std::string& temporary)> hook)
        {
            before_rename_hook() = std::move(hook);
        }
    }

    void write_file_atomically(const std::string& path, const std::function<void(const std::string& temporary)>& write)
    {
        static std::atomic<unsigned long> counter{0};
        std::string temporary =
            path + ".tmp-" + std::to_string(static_cast<long>(::getpid())) + "-" + std::to_string(counter++);
        try
        {
            write(temporary);
            sync_to_disk(temporary, false, path);
            if (before_rename_hook())
                before_rename_hook()(temporary);
            std::error_code ec;
            fs::rename(temporary, path, ec);
            if (ec)
                throw io_error("Cannot write '" + path + "': renaming the finished temporary file failed: " +
                               ec.message());
        }
        catch (...)
        {
            std::error_code ec;
            fs::remove(temporary, ec);
            throw;
        }
        // The rename itself lives in the directory: sync it so the new name survives a crash.
        fs::path directory = fs::path(path).parent_path();
        sync_to_disk(directory.empty() ? std::string(".") : directory.string(), true, path);
    }
}
