import COpenSSL
import Foundation

/// Shopify's webhook signature: HMAC-SHA256 over the raw body bytes, keyed with the app's client secret,
/// base64-encoded, compared in constant time.
public enum WebhookSignature {
    /// The HMAC-SHA256 digest of `message` under `key`.
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let ok = key.withUnsafeBufferPointer { k in
            message.withUnsafeBufferPointer { m in
                out.withUnsafeMutableBufferPointer { o in
                    HMAC(EVP_sha256(), k.baseAddress, Int32(k.count), m.baseAddress, m.count, o.baseAddress, &length)
                }
            }
        }
        precondition(ok != nil && length == 32, "OpenSSL HMAC-SHA256 failed")
        return Array(out.prefix(Int(length)))
    }

    /// The signature Shopify would send for `body` under `secret` (base64 of the HMAC-SHA256).
    public static func sign(body: [UInt8], secret: [UInt8]) -> String {
        Data(hmacSHA256(key: secret, message: body)).base64EncodedString()
    }

    /// True when `signature` (base64, as in `X-Shopify-Hmac-Sha256`) matches `body` under any of `secrets`.
    ///
    /// Several secrets cover a rotation, when Shopify may still sign with the old one for a while. Every secret
    /// is tried (no early exit), and digests are compared with `CRYPTO_memcmp`, so the time taken does not tell
    /// an attacker how close a guess was. A hex digest or anything that is not 32 bytes of base64 is rejected.
    public static func isValid(signature: String, body: [UInt8], secrets: [[UInt8]]) -> Bool {
        // Foundation's trimming is costly on Linux (an NSString bridge); a value whose ends are visible ASCII has
        // nothing to trim, and a base64 signature always ends that way.
        let ends = (signature.utf8.first ?? 0, signature.utf8.last ?? 0)
        let trimmed =
            (ends.0 > 0x20 && ends.0 < 0x7F && ends.1 > 0x20 && ends.1 < 0x7F)
            ? signature : signature.trimmingCharacters(in: .whitespaces)
        guard let given = Data(base64Encoded: trimmed), given.count == 32
        else { return false }
        let givenBytes = [UInt8](given)
        var matched = false
        for secret in secrets {
            let expected = hmacSHA256(key: secret, message: body)
            let equal = expected.withUnsafeBytes { e in
                givenBytes.withUnsafeBytes { g in CRYPTO_memcmp(e.baseAddress, g.baseAddress, 32) == 0 }
            }
            matched = matched || equal
        }
        return matched
    }
}

/// Compares two byte strings in time that depends only on their lengths (for bearer tokens and the like).
public func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    if a.isEmpty { return true }
    return a.withUnsafeBytes { x in b.withUnsafeBytes { y in CRYPTO_memcmp(x.baseAddress, y.baseAddress, a.count) == 0 } }
}
