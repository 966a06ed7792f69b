import Foundation

/// A shop's `name.myshopify.com` domain, normalised once: trimmed and lower-cased, so that the domain ingest reads
/// from Shopify's headers, the one an operator wrote in the exporter's shops file and the one every message carries
/// compare equal whatever their case.
///
/// Encoded as a plain JSON string (the normalised text): a message carrying one reads exactly as it did as a string.
public struct ShopDomain: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// The normalised domain, e.g. `acme.myshopify.com`.
    public let description: String

    /// The domain in `text`, trimmed and lower-cased; throws when it is not a plausible shop domain (letters, digits,
    /// `-` and `.`, at least one `.`, at most 255 characters).
    public init(_ text: some StringProtocol) throws {
        let normalised = Self.trimmed(String(text)).lowercased()
        guard Self.isPlausible(normalised) else {
            throw ContractError(
                "'\(text.prefix(255))' is not a shop domain like name.myshopify.com "
                    + "(letters, digits, '-' and '.', at least one '.', at most 255 characters)")
        }
        description = normalised
    }

    /// Orders domains by their normalised text.
    public static func < (a: ShopDomain, b: ShopDomain) -> Bool { a.description < b.description }

    /// `text` without surrounding whitespace. Ingest reads a domain from every webhook, and Foundation on Linux trims
    /// through an `NSString` bridge: when both ends are printable ASCII other than a space (nearly always), the text is
    /// returned as is.
    private static func trimmed(_ text: String) -> String {
        if let first = text.utf8.first, let last = text.utf8.last, first > 0x20, first < 0x7F, last > 0x20, last < 0x7F {
            return text
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func isPlausible(_ domain: String) -> Bool {
        !domain.isEmpty && domain.utf8.count <= 255 && domain.contains(".")
            && domain.unicodeScalars.allSatisfy {
                ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "."
            }
    }
}

extension ShopDomain: Codable {
    /// Reads a plain string and normalises it; an implausible domain fails the decoding with the reason.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            try self.init(text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(error)")
        }
    }

    /// Writes the normalised text as a plain string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
