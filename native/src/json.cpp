// The manifest's JSON reader (see json.hpp). Recursive descent over the text with a depth limit so
// a hostile file cannot exhaust the stack.
#include "json.hpp"

#include <charconv>
#include <cmath>
#include <stdexcept>

namespace vgrt::json {
namespace {

constexpr int kMaxDepth = 64;

class Parser {
public:
    explicit Parser(const std::string& text) : text_(text) {}

    Value document() {
        Value value = parse_value(0);
        skip_space();
        if (pos_ != text_.size()) error("unexpected text after the document");
        return value;
    }

private:
    [[noreturn]] void error(const std::string& what) const {
        throw std::runtime_error("offset " + std::to_string(pos_) + ": " + what);
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                       text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }

    char peek() {
        skip_space();
        if (pos_ >= text_.size()) error("unexpected end of input");
        return text_[pos_];
    }

    void expect(char c) {
        if (peek() != c) error(std::string("expected '") + c + "'");
        ++pos_;
    }

    void literal(const char* word) {
        for (const char* p = word; *p; ++p, ++pos_)
            if (pos_ >= text_.size() || text_[pos_] != *p) error(std::string("expected ") + word);
    }

    Value parse_value(int depth) {
        if (depth > kMaxDepth) error("nesting deeper than 64 levels");
        switch (peek()) {
            case '{': return parse_object(depth);
            case '[': return parse_array(depth);
            case '"': return Value::make_string(parse_string());
            case 't': literal("true"); return Value::make_bool(true);
            case 'f': literal("false"); return Value::make_bool(false);
            case 'n': literal("null"); return Value::make_null();
            default: return parse_number();
        }
    }

    Value parse_object(int depth) {
        expect('{');
        std::map<std::string, Value> members;
        if (peek() == '}') { ++pos_; return Value::make_object(std::move(members)); }
        for (;;) {
            if (peek() != '"') error("expected a string key");
            std::string key = parse_string();
            expect(':');
            Value value = parse_value(depth + 1);
            if (!members.emplace(std::move(key), std::move(value)).second) error("duplicate key");
            char c = peek();
            ++pos_;
            if (c == '}') return Value::make_object(std::move(members));
            if (c != ',') { --pos_; error("expected ',' or '}'"); }
        }
    }

    Value parse_array(int depth) {
        expect('[');
        std::vector<Value> items;
        if (peek() == ']') { ++pos_; return Value::make_array(std::move(items)); }
        for (;;) {
            items.push_back(parse_value(depth + 1));
            char c = peek();
            ++pos_;
            if (c == ']') return Value::make_array(std::move(items));
            if (c != ',') { --pos_; error("expected ',' or ']'"); }
        }
    }

    unsigned hex4() {
        if (pos_ + 4 > text_.size()) error("truncated \\u escape");
        unsigned code = 0;
        for (int i = 0; i < 4; ++i) {
            char c = text_[pos_++];
            code <<= 4;
            if (c >= '0' && c <= '9') code |= unsigned(c - '0');
            else if (c >= 'a' && c <= 'f') code |= unsigned(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F') code |= unsigned(c - 'A' + 10);
            else error("bad hex digit in \\u escape");
        }
        return code;
    }

    static void append_utf8(std::string& out, unsigned code) {
        if (code < 0x80) {
            out += char(code);
        } else if (code < 0x800) {
            out += char(0xC0 | (code >> 6));
            out += char(0x80 | (code & 0x3F));
        } else if (code < 0x10000) {
            out += char(0xE0 | (code >> 12));
            out += char(0x80 | ((code >> 6) & 0x3F));
            out += char(0x80 | (code & 0x3F));
        } else {
            out += char(0xF0 | (code >> 18));
            out += char(0x80 | ((code >> 12) & 0x3F));
            out += char(0x80 | ((code >> 6) & 0x3F));
            out += char(0x80 | (code & 0x3F));
        }
    }

    std::string parse_string() {
        expect('"');
        std::string out;
        for (;;) {
            if (pos_ >= text_.size()) error("unterminated string");
            char c = text_[pos_++];
            if (c == '"') return out;
            if (static_cast<unsigned char>(c) < 0x20) error("control character in string");
            if (c != '\\') { out += c; continue; }
            if (pos_ >= text_.size()) error("unterminated escape");
            char e = text_[pos_++];
            switch (e) {
                case '"': out += '"'; break;
                case '\\': out += '\\'; break;
                case '/': out += '/'; break;
                case 'b': out += '\b'; break;
                case 'f': out += '\f'; break;
                case 'n': out += '\n'; break;
                case 'r': out += '\r'; break;
                case 't': out += '\t'; break;
                case 'u': {
                    unsigned code = hex4();
                    if (code >= 0xD800 && code < 0xDC00) {
                        if (pos_ + 2 > text_.size() || text_[pos_] != '\\' || text_[pos_ + 1] != 'u')
                            error("unpaired surrogate");
                        pos_ += 2;
                        unsigned low = hex4();
                        if (low < 0xDC00 || low >= 0xE000) error("bad low surrogate");
                        code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
                    } else if (code >= 0xDC00 && code < 0xE000) {
                        error("unpaired surrogate");
                    }
                    append_utf8(out, code);
                    break;
                }
                default: error("bad escape");
            }
        }
    }

    Value parse_number() {
        size_t start = pos_;
        if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
        auto digits = [&] {
            size_t first = pos_;
            while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
            return pos_ - first;
        };
        if (digits() == 0) { pos_ = start; error("expected a value"); }
        if (pos_ < text_.size() && text_[pos_] == '.') {
            ++pos_;
            if (digits() == 0) error("expected digits after '.'");
        }
        if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
            ++pos_;
            if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
            if (digits() == 0) error("expected exponent digits");
        }
        // from_chars, unlike strtod, ignores the host's locale (a decimal comma would misread 0.5).
        double value = 0.0;
        auto result = std::from_chars(text_.data() + start, text_.data() + pos_, value);
        if (result.ec != std::errc() || !std::isfinite(value)) error("number out of range");
        return Value::make_number(value);
    }

    const std::string& text_;
    size_t pos_ = 0;
};

}  // namespace

const Value* Value::find(const std::string& key) const {
    if (kind_ != Kind::object) return nullptr;
    auto it = object_.find(key);
    return it == object_.end() ? nullptr : &it->second;
}

Value parse(const std::string& text) { return Parser(text).document(); }

}  // namespace vgrt::json
