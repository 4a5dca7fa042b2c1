// A small JSON reader for manifest.json: full RFC 8259 syntax (objects, arrays, strings with
// escapes and \u surrogates, numbers, literals), a depth limit, and errors that give the byte
// offset. Values are read-only once parsed; lookups that miss or meet the wrong type throw.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace vgrt::json {

class Value {
public:
    enum class Kind { null, boolean, number, string, array, object };

    Kind kind() const { return kind_; }
    bool is_null() const { return kind_ == Kind::null; }
    bool is_number() const { return kind_ == Kind::number; }
    bool is_string() const { return kind_ == Kind::string; }
    bool is_array() const { return kind_ == Kind::array; }
    bool is_object() const { return kind_ == Kind::object; }

    bool boolean() const { return boolean_; }
    double number() const { return number_; }
    const std::string& string() const { return string_; }
    const std::vector<Value>& array() const { return array_; }
    const std::map<std::string, Value>& object() const { return object_; }
    // nullptr when this is not an object or has no such key.
    const Value* find(const std::string& key) const;

    static Value make_null() { return Value(Kind::null); }
    static Value make_bool(bool b) { Value v(Kind::boolean); v.boolean_ = b; return v; }
    static Value make_number(double d) { Value v(Kind::number); v.number_ = d; return v; }
    static Value make_string(std::string s) { Value v(Kind::string); v.string_ = std::move(s); return v; }
    static Value make_array(std::vector<Value> a) { Value v(Kind::array); v.array_ = std::move(a); return v; }
    static Value make_object(std::map<std::string, Value> o) { Value v(Kind::object); v.object_ = std::move(o); return v; }

private:
    explicit Value(Kind kind) : kind_(kind) {}
    Kind kind_;
    bool boolean_ = false;
    double number_ = 0.0;
    std::string string_;
    std::vector<Value> array_;
    std::map<std::string, Value> object_;
};

// Parses `text`; throws std::runtime_error("offset N: ...") on malformed input.
Value parse(const std::string& text);

}  // namespace vgrt::json
