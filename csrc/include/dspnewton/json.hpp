// dspnewton: a small, strict JSON reader (no execution, no allocation limits beyond input size)
// for bundle.json. Numbers are parsed with strtod (round-trips %.17g).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace dspnewton {

/// A double as the writers print it: %.17g, which strtod reads back exactly.
inline std::string fmt17(double v) {
    char buf[40];
    std::snprintf(buf, sizeof(buf), "%.17g", v);
    return buf;
}

namespace json {

struct Value {
    enum Kind { Null, Bool, Number, String, Array, Object } kind = Null;
    bool b = false;
    double num = 0.0;
    std::string str;
    std::vector<Value> arr;
    std::map<std::string, Value> obj;
    std::string raw;  // exact source text of this value

    const Value& at(const std::string& key) const {
        auto it = obj.find(key);
        if (kind != Object || it == obj.end()) throw std::invalid_argument("missing key '" + key + "'");
        return it->second;
    }
    bool has(const std::string& key) const { return kind == Object && obj.count(key) > 0; }
    double number(const std::string& what) const {
        if (kind != Number) throw std::invalid_argument(what + " must be a number");
        return num;
    }
    const std::string& string(const std::string& what) const {
        if (kind != String) throw std::invalid_argument(what + " must be a string");
        return str;
    }
};

class Parser {
public:
    explicit Parser(const std::string& text) : s_(text) {}

    Value parse() {
        Value v = value(0);
        ws();
        if (i_ != s_.size()) fail("trailing characters after the JSON value");
        return v;
    }

private:
    static constexpr int kMaxDepth = 64;
    const std::string& s_;
    std::size_t i_ = 0;

    [[noreturn]] void fail(const std::string& msg) const {
        throw std::invalid_argument("invalid JSON at byte " + std::to_string(i_) + ": " + msg);
    }
    void ws() {
        while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
    }
    bool lit(const char* w) {
        std::size_t n = std::char_traits<char>::length(w);
        if (s_.compare(i_, n, w) == 0) {
            i_ += n;
            return true;
        }
        return false;
    }
    Value value(int depth) {
        if (depth > kMaxDepth) fail("nesting too deep");
        ws();
        if (i_ >= s_.size()) fail("unexpected end of input");
        std::size_t start = i_;
        Value v;
        char c = s_[i_];
        if (c == '{') {
            v.kind = Value::Object;
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == '}') {
                ++i_;
            } else {
                for (;;) {
                    ws();
                    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string key");
                    std::string key = string_body();
                    ws();
                    if (i_ >= s_.size() || s_[i_] != ':') fail("expected ':'");
                    ++i_;
                    if (v.obj.count(key)) fail("duplicate key '" + key + "'");
                    v.obj[key] = value(depth + 1);
                    ws();
                    if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                    if (i_ < s_.size() && s_[i_] == '}') { ++i_; break; }
                    fail("expected ',' or '}'");
                }
            }
        } else if (c == '[') {
            v.kind = Value::Array;
            ++i_;
            ws();
            if (i_ < s_.size() && s_[i_] == ']') {
                ++i_;
            } else {
                for (;;) {
                    v.arr.push_back(value(depth + 1));
                    ws();
                    if (i_ < s_.size() && s_[i_] == ',') { ++i_; continue; }
                    if (i_ < s_.size() && s_[i_] == ']') { ++i_; break; }
                    fail("expected ',' or ']'");
                }
            }
        } else if (c == '"') {
            v.kind = Value::String;
            v.str = string_body();
        } else if (lit("true")) {
            v.kind = Value::Bool;
            v.b = true;
        } else if (lit("false")) {
            v.kind = Value::Bool;
        } else if (lit("null")) {
            v.kind = Value::Null;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            std::size_t j = i_;
            if (s_[j] == '-') ++j;
            while (j < s_.size() && ((s_[j] >= '0' && s_[j] <= '9') || s_[j] == '.' || s_[j] == 'e' || s_[j] == 'E' ||
                                     s_[j] == '+' || s_[j] == '-'))
                ++j;
            std::string tok = s_.substr(i_, j - i_);
            char* end = nullptr;
            v.kind = Value::Number;
            v.num = std::strtod(tok.c_str(), &end);
            if (end == tok.c_str() || *end != '\0') fail("bad number '" + tok + "'");
            i_ = j;
        } else {
            fail(std::string("unexpected character '") + c + "'");
        }
        v.raw = s_.substr(start, i_ - start);
        return v;
    }
    std::string string_body() {
        ++i_;  // opening quote
        std::string out;
        while (i_ < s_.size() && s_[i_] != '"') {
            char c = s_[i_++];
            if (static_cast<unsigned char>(c) < 0x20) fail("control character in string");
            if (c == '\\') {
                if (i_ >= s_.size()) fail("bad escape");
                char e = s_[i_++];
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
                        if (i_ + 4 > s_.size()) fail("bad \\u escape");
                        unsigned code = static_cast<unsigned>(std::strtoul(s_.substr(i_, 4).c_str(), nullptr, 16));
                        i_ += 4;
                        if (code < 0x80) {
                            out += static_cast<char>(code);
                        } else if (code < 0x800) {
                            out += static_cast<char>(0xC0 | (code >> 6));
                            out += static_cast<char>(0x80 | (code & 0x3F));
                        } else {
                            out += static_cast<char>(0xE0 | (code >> 12));
                            out += static_cast<char>(0x80 | ((code >> 6) & 0x3F));
                            out += static_cast<char>(0x80 | (code & 0x3F));
                        }
                        break;
                    }
                    default: fail("bad escape");
                }
            } else {
                out += c;
            }
        }
        if (i_ >= s_.size()) fail("unterminated string");
        ++i_;
        return out;
    }
};

inline Value parse(const std::string& text) { return Parser(text).parse(); }

inline std::string quote(const std::string& s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof(buf), "\\u%04x", c);
                    out += buf;
                } else {
                    out += c;
                }
        }
    }
    return out + "\"";
}

}  // namespace json
}  // namespace dspnewton
