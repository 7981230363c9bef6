#pragma once
// Exceptions follow Keras's message pattern: what is wrong, what was expected, what was received,
// and where (layer or file). XK_CHECK streams its arguments into such a message.
#include <sstream>
#include <stdexcept>
#include <string>

namespace xk
{
    /// A bad argument value (Keras's ValueError).
    class value_error : public std::invalid_argument
    {
    public:
        using std::invalid_argument::invalid_argument;
    };

    /// A tensor whose shape does not fit (wrong rank, channel count, incompatible broadcast).
    class shape_error : public value_error
    {
    public:
        using value_error::value_error;
    };

    /// A name (a class, a function, a module) that no registry of this build knows: a file whose training
    /// configuration names one loads uncompiled, as Keras does with objects it cannot deserialize.
    class unknown_identifier_error : public value_error
    {
    public:
        using value_error::value_error;
    };

    /// A file that cannot be read or written, or whose content does not match the model.
    class io_error : public std::runtime_error
    {
    public:
        using std::runtime_error::runtime_error;
    };

    namespace detail
    {
        template <class... Parts>
        std::string concat(const Parts&... parts)
        {
            std::ostringstream out;
            (out << ... << parts);
            return out.str();
        }
    }
}

/// Throws `exception_type` with the streamed message when `condition` is false.
#define XK_CHECK(condition, exception_type, ...)                                                   \
    do                                                                                             \
    {                                                                                              \
        if (!(condition))                                                                          \
            throw exception_type(::xk::detail::concat(__VA_ARGS__));                               \
    } while (false)
