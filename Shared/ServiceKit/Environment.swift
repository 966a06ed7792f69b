import Foundation

/// Reads settings from the environment and secrets from files (so an orchestrator can mount them).
public enum Environment {
    /// The value of `name`, or nil when unset or empty.
    public static func string(_ name: String) -> String? {
        guard let v = ProcessInfo.processInfo.environment[name], !v.isEmpty else { return nil }
        return v
    }

    /// An integer setting; a value that is not an integer is a configuration error naming the variable.
    public static func int(_ name: String) throws -> Int? {
        guard let v = string(name) else { return nil }
        guard let n = Int(v.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError("\(name)='\(v)' is not a whole number")
        }
        return n
    }

    /// The content of a secret file, trailing newline removed; errors name the file, never its content.
    public static func secret(file path: String, purpose: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigurationError("\(purpose): secret file \(shownPath(path)) is missing or not readable")
        }
        var text = String(decoding: data, as: UTF8.self)
        while text.hasSuffix("\n") || text.hasSuffix("\r") { text.removeLast() }
        guard !text.isEmpty else { throw ConfigurationError("\(purpose): secret file \(shownPath(path)) is empty") }
        return text
    }

    /// `path` as an error message may show it: a value that does not look like a file's path may be the secret
    /// itself, pasted where its file belongs, and is never shown.
    public static func shownPath(_ path: String) -> String {
        let isPath = path.count <= 1_024 && !path.contains(where: \.isWhitespace)
            && (path.contains("/") || path.range(of: #"^[A-Za-z0-9_.-]+\.[A-Za-z0-9]{1,5}$"#, options: .regularExpression) != nil)
        return isPath
            ? path
            : "(a value of \(path.count) characters, not shown: it does not look like a file's path — was the secret itself "
                + "given instead of the path of its file?)"
    }
}

/// A setting that is missing or wrong; the message names the setting and the fix.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong.
    public let message: String
    /// Creates an error.
    public init(_ message: String) { self.message = message }
    public var description: String { "configuration error: \(message)" }
}
