import Foundation
import Signing
import Testing

@Suite struct WebhookSignatureTests {
    // The vector from shared/shopify-facts.md (recomputed there with openssl).
    let secret = Array("test-webhook-secret".utf8)
    let body = Array(#"{"id":1234567890,"email":"customer@example.com","total_price":"123.45"}"#.utf8)
    let expected = "QNyObTlKbMx2qDlPF/ZOZcBqg5OgPg+2oky3zldc0Gw="

    @Test func knownVectorSignsAsShopifyDoes() {
        #expect(WebhookSignature.sign(body: body, secret: secret) == expected)
        #expect(WebhookSignature.isValid(signature: expected, body: body, secrets: [secret]))
    }

    @Test func bodyWithTrailingNewlineFails() {
        #expect(!WebhookSignature.isValid(signature: expected, body: body + [0x0A], secrets: [secret]))
    }

    @Test func hexDigestFails() {
        let hex = WebhookSignature.hmacSHA256(key: secret, message: body).map { String(format: "%02x", $0) }.joined()
        #expect(hex.count == 64)
        #expect(!WebhookSignature.isValid(signature: hex, body: body, secrets: [secret]))
    }

    @Test func wrongSecretEmptyAndGarbageSignaturesFail() {
        #expect(!WebhookSignature.isValid(signature: expected, body: body, secrets: [Array("other".utf8)]))
        #expect(!WebhookSignature.isValid(signature: "", body: body, secrets: [secret]))
        #expect(!WebhookSignature.isValid(signature: "not base64 !!", body: body, secrets: [secret]))
        #expect(!WebhookSignature.isValid(signature: expected, body: body, secrets: []))
    }

    @Test func anyOfSeveralSecretsVerifiesDuringRotation() {
        let old = secret
        let new = Array("rotated-secret".utf8)
        #expect(WebhookSignature.isValid(signature: expected, body: body, secrets: [new, old]))
        let signedWithNew = WebhookSignature.sign(body: body, secret: new)
        #expect(WebhookSignature.isValid(signature: signedWithNew, body: body, secrets: [new, old]))
    }

    @Test func constantTimeEqualsComparesBytes() {
        #expect(constantTimeEquals(Array("token".utf8), Array("token".utf8)))
        #expect(!constantTimeEquals(Array("token".utf8), Array("tokeN".utf8)))
        #expect(!constantTimeEquals(Array("token".utf8), Array("token2".utf8)))
    }
}
