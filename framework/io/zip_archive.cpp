#include "framework/io/zip_archive.hpp"

#include "framework/engine/error.hpp"

#include <zip.h>

#include <algorithm>
#include <deque>
#include <fstream>
#include <set>

namespace xk
{
    namespace
    {
        // Deflate cannot expand data by more than 1032:1 (a run-length of 258 bytes per 2 bits at best); a
        // member declaring more than that of its compressed size is not a real deflate stream.
        constexpr std::uint64_t deflate_max_ratio = 1032;
        constexpr std::uint64_t read_chunk = std::uint64_t(1) << 20;

        std::string libzip_error(int code)
        {
            zip_error_t error;
            zip_error_init_with_code(&error, code);
            std::string message = zip_error_strerror(&error);
            zip_error_fini(&error);
            return message;
        }

        struct MemberInfo
        {
            zip_uint64_t index;
            zip_uint64_t size;
        };
    }

    struct ZipReader::Impl
    {
        std::string label;
        zip_t* archive = nullptr;
        std::vector<MemberInfo> infos;

        ~Impl()
        {
            if (archive)
                zip_discard(archive);
        }

        [[noreturn]] void fail_member(const std::string& member, const std::string& what) const
        {
            throw io_error("Cannot read '" + label + "': member '" + member + "' " + what);
        }

        /// Opens the member after the checks that need no inflating; returns its declared size.
        zip_file_t* open_member(std::size_t position, const std::string& member, std::uint64_t max_size,
                                std::uint64_t& size) const
        {
            zip_stat_t stat;
            zip_stat_init(&stat);
            if (zip_stat_index(archive, infos[position].index, 0, &stat) != 0)
                fail_member(member, std::string("cannot be read: ") + zip_strerror(archive));
            if (stat.encryption_method != ZIP_EM_NONE)
                fail_member(member, "is encrypted; Keras archives are not.");
            if (stat.comp_method != ZIP_CM_STORE && stat.comp_method != ZIP_CM_DEFLATE)
                fail_member(member, "uses compression method " + std::to_string(stat.comp_method) +
                                        "; expected stored (0) or deflated (8), as Python's zipfile writes.");
            size = stat.size;
            if (stat.comp_method == ZIP_CM_STORE && stat.size != stat.comp_size)
                fail_member(member, "is stored uncompressed, but declares " + std::to_string(stat.size) +
                                        " bytes for " + std::to_string(stat.comp_size) + " bytes in the archive.");
            if (stat.comp_method == ZIP_CM_DEFLATE && stat.size > stat.comp_size * deflate_max_ratio + 1024)
                fail_member(member, "declares " + std::to_string(stat.size) + " bytes from " +
                                        std::to_string(stat.comp_size) +
                                        " compressed bytes, more than deflate can produce (a zip bomb?).");
            if (stat.size > max_size)
                fail_member(member, "declares " + std::to_string(stat.size) + " bytes; at most " +
                                        std::to_string(max_size) + " are accepted for it.");
            zip_file_t* file = zip_fopen_index(archive, infos[position].index, 0);
            if (!file)
                fail_member(member, std::string("cannot be opened: ") + zip_strerror(archive));
            return file;
        }

        /// Feeds the member's bytes to `sink`, at most its declared size, and checks it is all there.
        template <class Sink>
        void stream(const std::string& member, std::size_t position, std::uint64_t max_size, Sink&& sink) const
        {
            std::uint64_t size = 0;
            zip_file_t* file = open_member(position, member, max_size, size);
            std::string buffer(static_cast<std::size_t>(std::min(read_chunk, size + 1)), '\0');
            std::uint64_t total = 0;
            std::string failure;
            while (true)
            {
                // One byte past the declared size is asked for, so a member longer than declared is seen.
                const std::uint64_t want = std::min<std::uint64_t>(buffer.size(), size - total + 1);
                const zip_int64_t got = zip_fread(file, buffer.data(), want);
                if (got < 0)
                {
                    failure = std::string("is damaged: ") + zip_file_strerror(file);
                    break;
                }
                if (got == 0)
                    break;
                total += static_cast<std::uint64_t>(got);
                if (total > size)
                {
                    failure = "holds more than the " + std::to_string(size) + " bytes it declares.";
                    break;
                }
                sink(buffer.data(), static_cast<std::size_t>(got));
            }
            zip_fclose(file);
            if (!failure.empty())
                fail_member(member, failure);
            if (total != size)
                fail_member(member, "is truncated: " + std::to_string(total) + " of its " + std::to_string(size) +
                                        " bytes could be read.");
        }
    };

    namespace
    {
        std::vector<std::string> list_members(zip_t* archive, const std::string& label,
                                              std::vector<MemberInfo>& infos)
        {
            const zip_int64_t count = zip_get_num_entries(archive, 0);
            std::vector<std::string> names;
            std::set<std::string> seen;
            for (zip_int64_t i = 0; i < count; ++i)
            {
                const char* name = zip_get_name(archive, static_cast<zip_uint64_t>(i), 0);
                if (!name)
                    throw io_error("Cannot read '" + label + "': entry " + std::to_string(i) +
                                   " of the zip directory has no readable name: " + zip_strerror(archive));
                if (!seen.insert(name).second)
                    throw io_error("Cannot read '" + label + "': the member '" + name +
                                   "' appears twice in the zip directory.");
                zip_stat_t stat;
                zip_stat_init(&stat);
                zip_stat_index(archive, static_cast<zip_uint64_t>(i), 0, &stat);
                names.emplace_back(name);
                infos.push_back({static_cast<zip_uint64_t>(i), stat.size});
            }
            return names;
        }
    }

    ZipReader::ZipReader(std::unique_ptr<Impl> impl) : m_impl(std::move(impl))
    {
        m_members = list_members(m_impl->archive, m_impl->label, m_impl->infos);
    }

    ZipReader::ZipReader(const std::string& path)
    {
        auto impl = std::make_unique<Impl>();
        impl->label = path;
        int code = 0;
        impl->archive = zip_open(path.c_str(), ZIP_RDONLY | ZIP_CHECKCONS, &code);
        if (!impl->archive)
        {
            if (code == ZIP_ER_NOENT || code == ZIP_ER_OPEN)
                throw io_error("Cannot read '" + path + "': " + libzip_error(code) + ".");
            throw io_error("Cannot read '" + path + "': it is not a valid zip archive (" + libzip_error(code) +
                           "); a .keras file is a zip archive as Keras 3's saving_lib writes it.");
        }
        m_impl = std::move(impl);
        m_members = list_members(m_impl->archive, m_impl->label, m_impl->infos);
    }

    ZipReader ZipReader::from_bytes(std::string_view bytes, const std::string& label)
    {
        auto impl = std::make_unique<Impl>();
        impl->label = label;
        zip_error_t error;
        zip_error_init(&error);
        zip_source_t* source = zip_source_buffer_create(bytes.data(), bytes.size(), 0, &error);
        if (source)
        {
            impl->archive = zip_open_from_source(source, ZIP_RDONLY | ZIP_CHECKCONS, &error);
            if (!impl->archive)
                zip_source_free(source);
        }
        if (!impl->archive)
        {
            std::string message = zip_error_strerror(&error);
            zip_error_fini(&error);
            throw io_error("Cannot read '" + label + "': it is not a valid zip archive (" + message +
                           "); a .keras file is a zip archive as Keras 3's saving_lib writes it.");
        }
        zip_error_fini(&error);
        return ZipReader(std::move(impl));
    }

    ZipReader::~ZipReader() = default;
    ZipReader::ZipReader(ZipReader&&) noexcept = default;
    ZipReader& ZipReader::operator=(ZipReader&&) noexcept = default;

    const std::string& ZipReader::label() const { return m_impl->label; }

    bool ZipReader::contains(const std::string& member) const
    {
        return std::find(m_members.begin(), m_members.end(), member) != m_members.end();
    }

    std::uint64_t ZipReader::declared_size(const std::string& member) const
    {
        auto it = std::find(m_members.begin(), m_members.end(), member);
        if (it == m_members.end())
            m_impl->fail_member(member, "is missing from the archive.");
        return m_impl->infos[static_cast<std::size_t>(it - m_members.begin())].size;
    }

    std::string ZipReader::read(const std::string& member, std::uint64_t max_size) const
    {
        auto it = std::find(m_members.begin(), m_members.end(), member);
        if (it == m_members.end())
            m_impl->fail_member(member, "is missing from the archive.");
        std::string out;
        m_impl->stream(member, static_cast<std::size_t>(it - m_members.begin()), max_size,
                       [&](const char* data, std::size_t n) { out.append(data, n); });
        return out;
    }

    void ZipReader::extract(const std::string& member, const std::string& destination, std::uint64_t max_size) const
    {
        auto it = std::find(m_members.begin(), m_members.end(), member);
        if (it == m_members.end())
            m_impl->fail_member(member, "is missing from the archive.");
        std::ofstream out(destination, std::ios::binary | std::ios::trunc);
        if (!out)
            throw io_error("Cannot read '" + m_impl->label + "': the temporary file '" + destination +
                           "' for member '" + member + "' cannot be created.");
        m_impl->stream(member, static_cast<std::size_t>(it - m_members.begin()), max_size,
                       [&](const char* data, std::size_t n) { out.write(data, static_cast<std::streamsize>(n)); });
        out.close();
        if (!out)
            throw io_error("Cannot read '" + m_impl->label + "': writing member '" + member + "' to '" +
                           destination + "' failed.");
    }

    struct ZipWriter::Impl
    {
        std::string path;
        zip_t* archive = nullptr;
        // zip_source_buffer keeps pointers into these until zip_close.
        std::deque<std::string> buffers;

        ~Impl()
        {
            if (archive)
                zip_discard(archive);
        }

        void add_source(const std::string& member, zip_source_t* source)
        {
            if (!source)
                throw io_error("Cannot write '" + path + "': member '" + member + "': " + zip_strerror(archive));
            const zip_int64_t index = zip_file_add(archive, member.c_str(), source, ZIP_FL_ENC_UTF_8);
            if (index < 0)
            {
                zip_source_free(source);
                throw io_error("Cannot write '" + path + "': adding member '" + member +
                               "' failed: " + zip_strerror(archive));
            }
            if (zip_set_file_compression(archive, static_cast<zip_uint64_t>(index), ZIP_CM_STORE, 0) != 0)
                throw io_error("Cannot write '" + path + "': member '" + member + "': " + zip_strerror(archive));
        }
    };

    ZipWriter::ZipWriter(const std::string& path) : m_impl(std::make_unique<Impl>())
    {
        m_impl->path = path;
        int code = 0;
        m_impl->archive = zip_open(path.c_str(), ZIP_CREATE | ZIP_TRUNCATE, &code);
        if (!m_impl->archive)
            throw io_error("Cannot write '" + path + "': " + libzip_error(code) + ".");
    }

    ZipWriter::~ZipWriter() = default;

    void ZipWriter::add(const std::string& member, std::string bytes)
    {
        const std::string& stored = m_impl->buffers.emplace_back(std::move(bytes));
        m_impl->add_source(member, zip_source_buffer(m_impl->archive, stored.data(), stored.size(), 0));
    }

    void ZipWriter::add_file(const std::string& member, const std::string& file_path)
    {
        m_impl->add_source(member, zip_source_file(m_impl->archive, file_path.c_str(), 0, -1));
    }

    void ZipWriter::close()
    {
        if (zip_close(m_impl->archive) != 0)
            throw io_error("Cannot write '" + m_impl->path + "': " + zip_strerror(m_impl->archive));
        m_impl->archive = nullptr;
    }
}
