#include "framework/keras/constraints.hpp"

#include <algorithm>
#include <cmath>
#include <map>

namespace xk
{
    namespace
    {
        constexpr double epsilon = 1e-7; // Keras's backend.epsilon()

        // Keras's backend.clip: a max below the min is raised to it.
        double clip(double x, double lo, double hi)
        {
            return std::min(std::max(x, lo), std::max(lo, hi));
        }

        // For each element of a weight of `shape`, the flat index of its norm in the keepdims reduction over
        // `axes`; also returns how many norms there are.
        std::vector<std::size_t> norm_slots(const Shape& shape, const std::vector<long>& axes,
                                            const std::string& class_name, std::size_t& count)
        {
            const long rank = static_cast<long>(shape.size());
            std::vector<bool> reduced(shape.size(), false);
            for (long a : axes)
            {
                XK_CHECK(a >= -rank && a < rank, value_error, "Invalid value for argument `axis` of ", class_name,
                         ": ", a, " is out of range for a weight of rank ", rank, " (shape ", shape_str(shape),
                         "). Expected values in [", -rank, ", ", rank - 1, "].");
                std::size_t d = static_cast<std::size_t>(a < 0 ? a + rank : a);
                XK_CHECK(!reduced[d], value_error, "Invalid value for argument `axis` of ", class_name,
                         ": axis ", d, " is listed twice.");
                reduced[d] = true;
            }
            std::vector<std::size_t> stride(shape.size(), 0);
            count = 1;
            for (std::size_t d = shape.size(); d-- > 0;)
                if (!reduced[d])
                {
                    stride[d] = count;
                    count *= shape[d];
                }
            std::vector<std::size_t> slots(shape_size(shape));
            std::vector<std::size_t> index(shape.size(), 0);
            std::size_t slot = 0;
            for (std::size_t i = 0; i < slots.size(); ++i)
            {
                slots[i] = slot;
                // Row-major increment of the multi-index, carrying the norm offset along.
                for (std::size_t d = shape.size(); d-- > 0;)
                {
                    slot += stride[d];
                    if (++index[d] < shape[d])
                        break;
                    slot -= stride[d] * shape[d];
                    index[d] = 0;
                }
            }
            return slots;
        }

        std::vector<long> axis_argument(const json& value, const std::string& class_name)
        {
            auto fail = [&] {
                return value_error("Invalid value for argument `axis` of " + class_name +
                                   ". Expected an integer or a list of integers. Received: axis=" + value.dump() +
                                   ".");
            };
            if (value.is_number_integer())
                return {value.get<long>()};
            if (!value.is_array())
                throw fail();
            std::vector<long> axes;
            for (const auto& a : value)
            {
                if (!a.is_number_integer())
                    throw fail();
                axes.push_back(a.get<long>());
            }
            return axes;
        }

        double number_argument(const json& config, const std::string& key, double fallback,
                               const std::string& class_name)
        {
            auto it = config.find(key);
            if (it == config.end() || it->is_null())
                return fallback;
            XK_CHECK(it->is_number(), value_error, "Invalid value for argument `", key, "` of ", class_name,
                     ". Expected a number. Received: ", key, "=", it->dump(), ".");
            return it->get<double>();
        }

        // Keras's names: the class, its snake_case alias, and the pre-2.0 spellings.
        const std::map<std::string, std::string>& constraint_names()
        {
            static const std::map<std::string, std::string> names{
                {"MaxNorm", "MaxNorm"},       {"max_norm", "MaxNorm"},         {"maxnorm", "MaxNorm"},
                {"NonNeg", "NonNeg"},         {"non_neg", "NonNeg"},           {"nonneg", "NonNeg"},
                {"UnitNorm", "UnitNorm"},     {"unit_norm", "UnitNorm"},       {"unitnorm", "UnitNorm"},
                {"MinMaxNorm", "MinMaxNorm"}, {"min_max_norm", "MinMaxNorm"}};
            return names;
        }
    }

    Constraint Constraint::max_norm(double max_value, std::vector<long> axis)
    {
        return Constraint(Kind::MaxNorm, 0.0, max_value, 1.0, std::move(axis));
    }

    Constraint Constraint::non_neg()
    {
        return Constraint(Kind::NonNeg, 0.0, 0.0, 1.0, {});
    }

    Constraint Constraint::unit_norm(std::vector<long> axis)
    {
        return Constraint(Kind::UnitNorm, 0.0, 1.0, 1.0, std::move(axis));
    }

    Constraint Constraint::min_max_norm(double min_value, double max_value, double rate, std::vector<long> axis)
    {
        return Constraint(Kind::MinMaxNorm, min_value, max_value, rate, std::move(axis));
    }

    std::string Constraint::class_name() const
    {
        switch (m_kind)
        {
        case Kind::MaxNorm:
            return "MaxNorm";
        case Kind::NonNeg:
            return "NonNeg";
        case Kind::UnitNorm:
            return "UnitNorm";
        default:
            return "MinMaxNorm";
        }
    }

    json Constraint::get_config() const
    {
        json axis = (m_axis_was_list || m_axis.size() != 1) ? json(m_axis) : json(m_axis.front());
        switch (m_kind)
        {
        case Kind::MaxNorm:
            return {{"max_value", m_max}, {"axis", axis}};
        case Kind::NonNeg:
            return json::object();
        case Kind::UnitNorm:
            return {{"axis", axis}};
        default:
            return {{"min_value", m_min}, {"max_value", m_max}, {"rate", m_rate}, {"axis", axis}};
        }
    }

    template <class T>
    void Constraint::apply(Tensor<T>& w) const
    {
        if (m_kind == Kind::NonNeg)
        {
            // w * (w >= 0) rather than max(w, 0), so a NaN stays NaN as in Keras.
            for (T& v : w)
                v = v * T(v >= T(0) ? 1 : 0);
            return;
        }
        std::size_t count = 0;
        std::vector<std::size_t> slots = norm_slots(shape_of(w), m_axis, class_name(), count);
        std::vector<double> scale(count, 0.0);
        T* data = w.data();
        for (std::size_t i = 0; i < slots.size(); ++i)
            scale[slots[i]] += double(data[i]) * double(data[i]);
        for (double& s : scale)
        {
            double norm = std::sqrt(s);
            double desired = m_kind == Kind::MaxNorm    ? clip(norm, 0.0, m_max)
                             : m_kind == Kind::UnitNorm ? 1.0
                                                        : m_rate * clip(norm, m_min, m_max) + (1.0 - m_rate) * norm;
            s = desired / (epsilon + norm);
        }
        for (std::size_t i = 0; i < slots.size(); ++i)
            data[i] = static_cast<T>(double(data[i]) * scale[slots[i]]);
    }

    template void Constraint::apply<float>(Tensor<float>&) const;
    template void Constraint::apply<double>(Tensor<double>&) const;

    std::optional<Constraint> get_constraint(const json& identifier)
    {
        if (identifier.is_null())
            return std::nullopt;
        json config = json::object();
        std::string name;
        if (identifier.is_string())
            name = identifier.get<std::string>();
        else
        {
            XK_CHECK(identifier.is_object(), value_error,
                     "Could not interpret constraint identifier: ", identifier.dump(), ".");
            auto class_name = identifier.find("class_name");
            XK_CHECK(class_name != identifier.end() && class_name->is_string(), value_error,
                     "Improper config format: ", identifier.dump(),
                     ". Expecting a JSON object with `class_name` and `config` as keys.");
            name = class_name->get<std::string>();
            auto it = identifier.find("config");
            if (it != identifier.end() && !it->is_null())
                config = *it;
        }
        auto found = constraint_names().find(name);
        if (found == constraint_names().end())
        {
            std::string known;
            for (const auto& entry : constraint_names())
                known += (known.empty() ? "" : ", ") + entry.first;
            throw value_error("Unknown constraint: '" + name + "'. Expected one of: " + known + ".");
        }
        const std::string& cls = found->second;
        XK_CHECK(config.is_object(), value_error, "The config of ", cls, " must be a JSON object. Received: config=",
                 config.dump(), ".");

        static const std::map<std::string, std::vector<std::string>> keys{
            {"MaxNorm", {"max_value", "axis"}},
            {"NonNeg", {}},
            {"UnitNorm", {"axis"}},
            {"MinMaxNorm", {"min_value", "max_value", "rate", "axis"}}};
        auto unknown = unknown_keys(config, keys.at(cls));
        XK_CHECK(unknown.empty(), value_error, "Unrecognized keyword argument passed to ", cls, ": '",
                 unknown.empty() ? "" : unknown.front(), "'.");

        if (cls == "NonNeg")
            return Constraint::non_neg();
        const json axis_json = config.contains("axis") && !config["axis"].is_null() ? config["axis"] : json(0);
        std::vector<long> axis = axis_argument(axis_json, cls);
        auto number = [&](const char* key, double fallback) { return number_argument(config, key, fallback, cls); };
        Constraint out = Constraint::unit_norm(axis);
        if (cls == "MaxNorm")
            out = Constraint::max_norm(number("max_value", 2.0), axis);
        else if (cls == "MinMaxNorm")
            out = Constraint::min_max_norm(number("min_value", 0.0), number("max_value", 1.0), number("rate", 1.0),
                                           axis);
        out.m_axis_was_list = axis_json.is_array();
        return out;
    }

    json serialize(const std::optional<Constraint>& constraint)
    {
        if (!constraint)
            return nullptr;
        return {{"class_name", constraint->class_name()}, {"config", constraint->get_config()}};
    }
}
