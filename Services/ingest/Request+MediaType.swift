import Hummingbird

extension Request {
    /// Why ingest will not read this request's body as sent, or nil when it will.
    ///
    /// Ingest takes JSON exactly as the sender signed it: a `Content-Type` that names something else (XML, a form,
    /// text) or any `Content-Encoding` other than `identity` gets 415. Shopify never compresses webhooks and signs the
    /// bytes it sends, so an encoded body is refused before a byte of it is read, and never decompressed (1 MiB of
    /// gzip can inflate to a gigabyte). A missing `Content-Type` is accepted: the signature or the bearer token
    /// already proves the sender, and a body that is not JSON is dead-lettered downstream with the reason.
    var unsupportedMediaType: IngestRejection? {
        var encoding: String?
        var contentType: String?
        for field in headers {
            if field.name == .contentEncoding {
                encoding = encoding.map { $0 + ", " + field.value } ?? field.value
            } else if field.name == .contentType {
                contentType = contentType.map { $0 + ", " + field.value } ?? field.value
            }
        }
        if let encoding, encoding.trimmingWhitespace.lowercased() != "identity" {
            return .unsupportedMediaType(
                "content_encoding", "Content-Encoding '\(encoding.prefix(100))' is not accepted: send the JSON unencoded")
        }
        if let contentType, !Self.isJSON(contentType) {
            return .unsupportedMediaType(
                "content_type", "Content-Type '\(contentType.prefix(100))' is not accepted: send application/json")
        }
        return nil
    }

    /// `application/json` or a `+json` type, with any parameters (`application/json; charset=utf-8`).
    static func isJSON(_ contentType: String) -> Bool {
        if contentType == "application/json" { return true }  // what Shopify sends: no splitting, no allocation
        let type = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let mediaType = String(type).trimmingWhitespace.lowercased()
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }
}
