#pragma once
// Zip archives through libzip, for Keras 3's `.keras` files. Only what those files need: members listed in
// the archive's order, read whole (JSON) or streamed to a file (the weights), and archives written with
// stored (uncompressed) members in a given order, as Keras's saving_lib writes them.
// Every error is an io_error naming the archive and, where there is one, the member.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace xk
{
    /// A zip archive open for reading. Members are checked against the archive before any byte is handed out:
    /// a member whose declared size is beyond what deflate can reach from its compressed size (a zip bomb),
    /// or beyond the caller's limit, is refused before it is inflated, and a member is never read past its
    /// declared size; libzip checks each member's CRC as it reaches its end.
    class ZipReader
    {
    public:
        /// io_error when `path` cannot be opened or is not a zip archive.
        explicit ZipReader(const std::string& path);
        /// An archive held in memory (`bytes` must outlive the reader); `label` names it in messages.
        static ZipReader from_bytes(std::string_view bytes, const std::string& label);
        ~ZipReader();
        ZipReader(ZipReader&&) noexcept;
        ZipReader& operator=(ZipReader&&) noexcept;

        const std::string& label() const;
        /// Member names in the archive's (central directory) order.
        const std::vector<std::string>& members() const { return m_members; }
        bool contains(const std::string& member) const;
        /// The member's uncompressed size as the archive declares it.
        std::uint64_t declared_size(const std::string& member) const;

        /// The member's bytes; io_error if it is missing, larger than `max_size`, damaged or truncated.
        std::string read(const std::string& member, std::uint64_t max_size) const;
        /// Streams the member to `destination` (created or truncated), with read()'s checks.
        void extract(const std::string& member, const std::string& destination, std::uint64_t max_size) const;

    private:
        struct Impl;
        explicit ZipReader(std::unique_ptr<Impl> impl);
        std::unique_ptr<Impl> m_impl;
        std::vector<std::string> m_members;
    };

    /// A zip archive being written: members are added in order and stored uncompressed; close() writes the
    /// archive. Without close() (an exception on the way) nothing is written.
    class ZipWriter
    {
    public:
        explicit ZipWriter(const std::string& path);
        ~ZipWriter();
        ZipWriter(const ZipWriter&) = delete;
        ZipWriter& operator=(const ZipWriter&) = delete;

        void add(const std::string& member, std::string bytes);
        /// The file's content, read when close() writes the archive (it must exist until then).
        void add_file(const std::string& member, const std::string& file_path);
        void close();

    private:
        struct Impl;
        std::unique_ptr<Impl> m_impl;
    };
}
