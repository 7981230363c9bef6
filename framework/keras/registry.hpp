#pragma once
// A name -> factory table. One instance each for layers, initializers, regularizers, constraints,
// activations and optimizers, keyed by Keras's class names and snake_case aliases.
#include "framework/engine/error.hpp"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace xk
{
    template <class Product, class... Args>
    class Registry
    {
    public:
        using Factory = std::function<Product(Args...)>;

        /// `kind` names the table in messages ("layer", "initializer", ...).
        explicit Registry(std::string kind) : m_kind(std::move(kind)) {}

        void add(const std::string& name, Factory factory)
        {
            XK_CHECK(!m_factories.count(name), value_error, "A ", m_kind, " named '", name,
                     "' is already registered.");
            m_factories.emplace(name, std::move(factory));
        }

        bool contains(const std::string& name) const { return m_factories.count(name) != 0; }

        Product create(const std::string& name, Args... args) const
        {
            auto it = m_factories.find(name);
            if (it == m_factories.end())
                throw unknown_identifier_error("Unknown " + m_kind + ": '" + name + "'. Expected one of: " + known_names() +
                                  ".");
            return it->second(std::forward<Args>(args)...);
        }

        std::vector<std::string> names() const
        {
            std::vector<std::string> out;
            for (const auto& entry : m_factories)
                out.push_back(entry.first);
            return out;
        }

        const std::string& kind() const { return m_kind; }

    private:
        std::string known_names() const
        {
            std::string out;
            for (const auto& entry : m_factories)
                out += (out.empty() ? "" : ", ") + entry.first;
            return out;
        }

        std::string m_kind;
        std::map<std::string, Factory> m_factories;
    };
}
