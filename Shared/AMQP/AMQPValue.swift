import Foundation

/// A value of an AMQP field table (queue arguments, message headers).
public enum AMQPValue: Sendable, Equatable, Hashable {
    case string(String)
    case bool(Bool)
    case int32(Int32)
    case int64(Int64)
    case double(Double)
    case timestamp(UInt64)
    case bytes([UInt8])
    case array([AMQPValue])
    case table([String: AMQPValue])
    case void

    /// The value as a string when it is one (also for byte strings that are valid UTF-8).
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .bytes(let b): return String(bytes: b, encoding: .utf8)
        default: return nil
        }
    }

    /// The value as an integer when it is any integer kind.
    public var intValue: Int64? {
        switch self {
        case .int32(let v): return Int64(v)
        case .int64(let v): return v
        case .timestamp(let v): return Int64(clamping: v)
        default: return nil
        }
    }
}

extension AMQPValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int64) { self = .int64(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}
