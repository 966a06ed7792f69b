import Foundation

/// A JSON value as a GraphQL request carries it (`variables`) and as errors report it (`extensions`).
///
/// Integers and fractional numbers stay apart because GraphQL tells them apart: `5` is an `Int`, `5.0` is not
/// (graphql-ruby's `Int.coerce_input` accepts only Ruby Integers). Objects keep their key order, so that problems
/// are reported in the order the client sent the fields, as graphql-ruby does.
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// True for `.null`.
    public var isNull: Bool {
        if case .null = self { return true }
        return false
    }

    /// The object, for `.object`; nil otherwise.
    public var objectValue: JSONObject? {
        if case .object(let object) = self { return object }
        return nil
    }
}

/// A JSON object that remembers the order of its keys. Setting an existing key keeps its position.
public struct JSONObject: Sendable, Hashable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var keys: [String] = []
    private var storage: [String: JSONValue] = [:]

    public init() {}

    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    public init(_ pairs: [(String, JSONValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    public subscript(key: String) -> JSONValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    public func makeIterator() -> AnyIterator<(key: String, value: JSONValue)> {
        var index = 0
        return AnyIterator {
            guard index < keys.count else { return nil }
            defer { index += 1 }
            let key = keys[index]
            return (key, storage[key]!)
        }
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.keys == rhs.keys && lhs.storage == rhs.storage
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(keys)
        for key in keys { hasher.combine(storage[key]) }
    }
}

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

// MARK: - From Foundation values

extension JSONValue {
    /// Converts what `JSONSerialization` returns, or a hand-built `[String: Any]` of Swift values (`String`, `Int`,
    /// `Double`, `Bool`, `NSNull`, arrays, dictionaries, `JSONValue`), to a `JSONValue`. Returns nil for anything
    /// else. Dictionary keys come out sorted, because `[String: Any]` has no order to keep.
    public init?(any value: Any) {
        // Most likely types first: failed casts of `Any` are not free.
        if let v = value as? String {
            self = .string(v)
        } else if let v = value as? [String: Any] {
            guard let object = JSONObject(any: v) else { return nil }
            self = .object(object)
        } else if let v = value as? [Any] {
            var items: [JSONValue] = []
            items.reserveCapacity(v.count)
            for item in v {
                guard let converted = JSONValue(any: item) else { return nil }
                items.append(converted)
            }
            self = .array(items)
        } else if let number = JSONValue(number: value) {
            self = number
        } else if value is NSNull {
            self = .null
        } else if let v = value as? JSONValue {
            self = v
        } else {
            return nil
        }
    }

    /// Numbers: Swift's own types first (an `Int` bridges to `NSNumber`, and an `NSNumber` 1 casts to `Bool`, so
    /// exact type checks come before any cast), then `NSNumber` by its Objective-C type code.
    private init?(number value: Any) {
        switch value {
        case let v as Bool where type(of: value) == Bool.self: self = .bool(v)
        case let v as Int where type(of: value) == Int.self: self = .int(v)
        case let v as Int64 where type(of: value) == Int64.self: self = .int(Int(v))
        case let v as Int32 where type(of: value) == Int32.self: self = .int(Int(v))
        case let v as UInt where type(of: value) == UInt.self:
            self = v <= UInt(Int.max) ? .int(Int(v)) : .double(Double(v))
        case let v as Double where type(of: value) == Double.self: self = .double(v)
        case let v as Float where type(of: value) == Float.self: self = .double(Double(v))
        case let v as Decimal: self = .double(NSDecimalNumber(decimal: v).doubleValue)
        case let n as NSNumber:
            switch String(cString: n.objCType) {
            case "c", "B": self = .bool(n.boolValue)
            case "d", "f": self = .double(n.doubleValue)
            case "Q" where n.uint64Value > UInt64(Int.max): self = .double(n.doubleValue)
            default: self = .int(n.intValue)
            }
        default:
            return nil
        }
    }

    /// The Foundation value (`NSNull`, `String`, `Int`, `Double`, `Bool`, `[Any]`, `[String: Any]`).
    public var foundationValue: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let v): return v
        case .int(let v): return v
        case .double(let v): return v
        case .string(let v): return v
        case .array(let v): return v.map(\.foundationValue)
        case .object(let v):
            var out: [String: Any] = [:]
            for (key, value) in v { out[key] = value.foundationValue }
            return out
        }
    }
}

extension JSONObject {
    /// Converts a `[String: Any]` (see `JSONValue.init(any:)`), keys sorted.
    public init?(any dictionary: [String: Any]) {
        self.init()
        for key in dictionary.keys.sorted() {
            guard let value = JSONValue(any: dictionary[key]!) else { return nil }
            self[key] = value
        }
    }
}

// MARK: - Writing

extension JSONValue: Encodable {
    /// Compact JSON text, keys in order. Non-ASCII characters are written as they are, as Ruby's `JSON.generate` does.
    public var jsonString: String {
        var out = ""
        write(to: &out)
        return out
    }

    func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let v): out += v ? "true" : "false"
        case .int(let v): out += String(v)
        case .double(let v): out += v.isFinite ? rubyFloatString(v) : "null"
        case .string(let v): writeJSONString(v, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let object):
            out += "{"
            for (i, (key, value)) in object.enumerated() {
                if i > 0 { out += "," }
                writeJSONString(key, to: &out)
                out += ":"
                value.write(to: &out)
            }
            out += "}"
        }
    }

    public func encode(to encoder: any Encoder) throws {
        switch self {
        case .null:
            var c = encoder.singleValueContainer()
            try c.encodeNil()
        case .bool(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .int(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .double(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .string(let v):
            var c = encoder.singleValueContainer()
            try c.encode(v)
        case .array(let items):
            var c = encoder.unkeyedContainer()
            for item in items { try c.encode(item) }
        case .object(let object):
            var c = encoder.container(keyedBy: JSONKey.self)
            for (key, value) in object { try c.encode(value, forKey: JSONKey(stringValue: key)) }
        }
    }
}

struct JSONKey: CodingKey {
    let stringValue: String
    init(stringValue: String) { self.stringValue = stringValue }
    var intValue: Int? { nil }
    init?(intValue: Int) { return nil }
}

/// Writes `s` as a JSON string literal, escaping what JSON requires (quote, backslash, control characters).
func writeJSONString(_ s: String, to out: inout String) {
    out += "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case "\u{08}": out += "\\b"
        case "\u{0C}": out += "\\f"
        default:
            if scalar.value < 0x20 {
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    out += "\""
}

/// Formats a Double the way Ruby's `Float#to_s` does (graphql-ruby prints literals and values with it):
/// `1.0`, `0.5`, `1.0e+20`, `1.0e-05`. Positional notation for exponents -4 ..< 16, scientific otherwise.
func rubyFloatString(_ value: Double) -> String {
    if value.isNaN { return "NaN" }
    if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
    if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
    // Shortest round-trip digits and decimal exponent, from Swift's description.
    let description = "\(abs(value))"
    var digits = ""
    var exponent = 0
    if let e = description.firstIndex(where: { $0 == "e" || $0 == "E" }) {
        let mantissa = description[..<e]
        exponent = Int(description[description.index(after: e)...])!
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        digits = String(parts[0]) + (parts.count > 1 ? String(parts[1]) : "")
        exponent += parts[0].count - 1
    } else {
        let parts = description.split(separator: ".", omittingEmptySubsequences: false)
        let intPart = String(parts[0])
        let fracPart = parts.count > 1 ? String(parts[1]) : ""
        if intPart != "0" {
            digits = intPart + fracPart
            exponent = intPart.count - 1
        } else {
            let leadingZeros = fracPart.prefix(while: { $0 == "0" }).count
            digits = String(fracPart.dropFirst(leadingZeros))
            exponent = -(leadingZeros + 1)
        }
    }
    while digits.count > 1 && digits.hasSuffix("0") { digits.removeLast() }
    if digits.isEmpty { digits = "0" }
    let sign = value < 0 ? "-" : ""
    if exponent < -4 || exponent >= 16 {
        let first = digits.prefix(1)
        let rest = digits.count > 1 ? String(digits.dropFirst()) : "0"
        let expSign = exponent < 0 ? "-" : "+"
        let expDigits = String(abs(exponent))
        return "\(sign)\(first).\(rest)e\(expSign)\(expDigits.count < 2 ? "0" + expDigits : expDigits)"
    }
    if exponent < 0 {
        return sign + "0." + String(repeating: "0", count: -exponent - 1) + digits
    }
    if digits.count <= exponent + 1 {
        return sign + digits + String(repeating: "0", count: exponent + 1 - digits.count) + ".0"
    }
    let split = digits.index(digits.startIndex, offsetBy: exponent + 1)
    return sign + digits[..<split] + "." + digits[split...]
}
